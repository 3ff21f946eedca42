// The operator console: log in, load the pad, open the live stream, and wire the panels.
// Each panel lives in its own module and reads from the one Store; nothing here knows
// how a panel draws.

import { AlarmList } from "./alarms.js";
import { Api, Stream } from "./api.js";
import { CommandPanel } from "./commands.js";
import { CountdownControls } from "./countdown.js";
import { cancelConfirm, installDialogs, toast } from "./dialogs.js";
import { EventLog } from "./eventlog.js";
import { Header } from "./header.js";
import { Permissives } from "./permissives.js";
import { Plots } from "./plots.js";
import { ReplayBar } from "./replay.js";
import { Store } from "./store.js";
import { Synoptic } from "./synoptic.js";

const store = new Store();
const loginScreen = document.getElementById("login-screen");
const app = document.getElementById("app");
// A 401 after we have already left (a poll still in flight at logout) changes nothing.
const api = new Api({ onUnauthorized: (detail) => !app.hidden && showLogin(`Session ended: ${detail}. Please log in again.`) });

installDialogs();
const header = new Header(store);
const commands = new CommandPanel(store, api);
const synoptic = new Synoptic(store, document.getElementById("synoptic"), { onValveCommand: (id) => commands.prefill(id) });
new CountdownControls(store, api);
new AlarmList(store, api);
const permissives = new Permissives(store, api);
const eventLog = new EventLog(store, api);
const plots = new Plots(store, api);
// A replay that jumped elsewhere in the record: its log and plots start again from there.
new ReplayBar(store, api, {
  onMoved: () => {
    eventLog.clear();
    plots.restore();
  },
});
const stream = new Stream({
  api,
  onMessage: (message) => store.apply(message),
  onLink: (status, retryIn, why) => {
    header.setLink(status, retryIn, why);
    store.setLink(status === "live");
  },
});

let entering = null;

function showLogin(message = "") {
  stream.stop();
  permissives.stop();
  cancelConfirm();
  synoptic.closeValvePanel();
  app.hidden = true;
  loginScreen.hidden = false;
  document.getElementById("login-message").textContent = message;
  document.getElementById("login-password").value = "";
  document.getElementById(document.getElementById("login-username").value ? "login-password" : "login-username").focus();
  entering = null;
}

/** With a token in hand: load who we are, the pad and the count, then go live. */
async function enter() {
  if (entering) return entering;
  entering = (async () => {
    try {
      const [me, pad, state, alarms] = await Promise.all([api.get("/api/me"), api.get("/api/pad"), api.get("/api/state"), api.get("/api/alarms")]);
      loginScreen.hidden = true;
      app.hidden = false;
      eventLog.clear();
      store.setMe(me);
      store.setPad(pad);
      document.getElementById("pad-name").textContent = `${pad.name} · ${pad.site} · ${pad.vehicle}`;
      synoptic.build();
      store.setState(state);
      if (Array.isArray(state.armings)) store.setArmings(state.armings);
      store.setAlarms(alarms);
      plots.restore();
      stream.start();
      permissives.start();
    } catch (err) {
      showLogin(err.status === 401 ? `Session ended: ${err.detail}. Please log in again.` : `Cannot load the console: ${err.detail}`);
    }
  })();
  return entering;
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = document.getElementById("login-message");
  const button = document.getElementById("login-submit");
  message.textContent = "";
  button.disabled = true;
  try {
    await api.login(document.getElementById("login-username").value.trim(), document.getElementById("login-password").value);
    await enter();
  } catch (err) {
    message.textContent = err.detail;
  } finally {
    button.disabled = false;
  }
});

document.getElementById("logout").addEventListener("click", async () => {
  // Leave first, so nothing still running hears the 401s of a session that has ended.
  showLogin("Logged out.");
  try {
    await api.logout();
  } catch (err) {
    if (err.status !== 401) toast(`logout: ${err.detail}`);
  }
});

// At laptop widths alarms, permissives and events share one space behind tabs.
for (const tab of document.querySelectorAll("[data-tab]")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("[data-tab]")) other.classList.toggle("active", other === tab);
    for (const panel of document.querySelectorAll(".dock, .plots-panel")) panel.classList.toggle("active", panel.id === tab.dataset.tab);
  });
}

// Unacknowledged alarms, a lost link and valve disagreements blink together, once a second.
setInterval(() => document.body.classList.toggle("blink"), 1000);

if (api.token) enter();
else showLogin();
