// HOLD and ABORT (always in view) and the director's countdown controls: start, resume,
// recycle, scrub and the GO/NO-GO poll's answer (docs/api.md, "Commanding").

import { confirmAction, toast } from "./dialogs.js";
import { gate, whyNot } from "./roles.js";
import { formatT, label } from "./util.js";

const TERMINAL = new Set(["launched", "scrubbed", "aborted"]);

// In which count states each control makes sense (groundseg/sequencer/countdown.py).
// HOLD and ABORT are never disabled by state: stopping must not depend on the console
// agreeing with the server about the state; the server says no if it must.
const WHEN = {
  start: { states: ["ready"], why: "start only from READY" },
  resume: { states: ["holding"], why: "resume only from HOLDING" },
  recycle: { states: ["holding"], why: "recycle only while HOLDING" },
  scrub: { states: ["ready", "counting", "holding", "polling"], why: "the count is over" },
  go: { states: ["polling"], why: "a poll is answered only while POLLING" },
  "no-go": { states: ["polling"], why: "a poll is answered only while POLLING" },
};

const ENDPOINT = { start: "countdown_start", resume: "countdown_resume", recycle: "countdown_recycle", scrub: "countdown_scrub", go: "countdown_poll", "no-go": "countdown_poll" };

export class CountdownControls {
  constructor(store, api) {
    this.store = store;
    this.api = api;
    this.holdButton = document.getElementById("hold-button");
    this.abortButton = document.getElementById("abort-button");
    this.buttons = [...document.querySelectorAll("[data-countdown]")];
    this.holdButton.addEventListener("click", () => this.hold());
    this.abortButton.addEventListener("click", () => this.abort());
    for (const button of this.buttons) button.addEventListener("click", () => this.act(button.dataset.countdown));
    store.on("state", () => this.refresh());
    store.on("me", () => this.refresh());
  }

  refresh() {
    const store = this.store;
    const state = store.state ? store.state.state : null;
    // The state arrives ten times a second; the buttons change only with it or the roles.
    const key = `${state} ${store.me.roles.join(",")} ${(store.pad?.recycle_points ?? []).length}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    gate(this.holdButton, whyNot(store, "countdown_hold"), "Hold the count (asks for a reason)");
    gate(this.abortButton, whyNot(store, "countdown_abort"), "Abort: the safing sequence runs (asks for a reason and a typed confirmation)");
    for (const button of this.buttons) {
      const action = button.dataset.countdown;
      let why = whyNot(store, ENDPOINT[action]);
      if (!why && state && !WHEN[action].states.includes(state)) why = `${WHEN[action].why} (now ${label(state)})`;
      if (!why && action === "recycle" && !(store.pad?.recycle_points ?? []).length) why = "the pad declares no recycle point";
      gate(button, why);
    }
    this.holdButton.classList.toggle("active", state === "holding");
  }

  async hold() {
    const values = await confirmAction({
      title: "HOLD the count",
      lines: ["The T-clock stops. Resuming is the director's decision."],
      fields: [{ name: "reason", id: "hold-reason", label: "Reason", value: "operator hold", required: true }],
      request: (v) => `POST /api/countdown/hold\n${JSON.stringify({ reason: v.reason })}`,
      yes: "HOLD",
      danger: true,
    });
    if (!values) return;
    await this.post("hold", { reason: values.reason }, "Hold requested");
  }

  async abort() {
    const values = await confirmAction({
      title: "ABORT",
      lines: ["The count ends and the safing sequence runs: fill valves close, pumps stop, tanks vent. There is no resume after an abort."],
      fields: [{ name: "reason", id: "abort-reason", label: "Reason", value: "", required: true, placeholder: "why" }],
      typed: "ABORT",
      request: (v) => `POST /api/countdown/abort\n${JSON.stringify({ reason: v.reason })}`,
      yes: "ABORT",
      danger: true,
    });
    if (!values) return;
    await this.post("abort", { reason: values.reason }, "Abort requested: safing");
  }

  async act(action) {
    const pad = this.store.pad;
    const stations = this.store.state?.poll ?? [];
    let path = action;
    let body = {};
    let values;
    switch (action) {
      case "start":
        values = await confirmAction({
          title: "Start the count",
          lines: ["Starts the T-clock from the pad's start point. Leave the window blank for the pad's own window after the planned T-0."],
          fields: [{ name: "window_s", label: "Window closes in (s, optional)", type: "number", min: 1 }],
          request: (v) => `POST /api/countdown/start\n${JSON.stringify(v.window_s ? { window_s: v.window_s } : {})}`,
          yes: "Start",
        });
        if (!values) return;
        body = values.window_s ? { window_s: values.window_s } : {};
        break;
      case "resume":
        if (!(await confirmAction({ title: "Resume the count", lines: ["The T-clock runs again."], request: () => "POST /api/countdown/resume\n{}", yes: "Resume" }))) return;
        break;
      case "recycle": {
        const points = [...(pad?.recycle_points ?? [])].sort((a, b) => a - b);
        values = await confirmAction({
          title: "Recycle",
          lines: ["The count returns to a declared earlier point and stays holding."],
          fields: [{ name: "to_t_s", label: "Recycle to", type: "select", options: points.map((p) => ({ value: p, label: formatT(p) })), value: points[points.length - 1] }],
          request: (v) => `POST /api/countdown/recycle\n${JSON.stringify({ to_t_s: Number(v.to_t_s) })}`,
          yes: "Recycle",
        });
        if (!values) return;
        body = { to_t_s: Number(values.to_t_s) };
        break;
      }
      case "scrub":
        values = await confirmAction({
          title: "SCRUB",
          lines: ["Ends today's attempt. There is no resume after a scrub."],
          fields: [{ name: "reason", label: "Reason", required: true }],
          typed: "SCRUB",
          request: (v) => `POST /api/countdown/scrub\n${JSON.stringify({ reason: v.reason })}`,
          yes: "Scrub",
          danger: true,
        });
        if (!values) return;
        body = { reason: values.reason };
        break;
      case "go": {
        const every = stations.length ? `Every station is GO (${stations.join(", ")})` : "Every station is GO";
        if (!(await confirmAction({ title: "Poll: GO", lines: [`${every}: the count resumes.`], request: () => `POST /api/countdown/poll\n${JSON.stringify({ go: true, no_go: [] })}`, yes: "GO" }))) return;
        path = "poll";
        body = { go: true, no_go: [] };
        break;
      }
      case "no-go": {
        // The hold's declared stations as boxes to tick; free text only for a hold that names none.
        const field = stations.length
          ? { name: "stations", type: "checks", label: "NO-GO stations", options: stations.map((s) => ({ value: s, label: s })), required: true }
          : { name: "stations", label: "NO-GO stations (comma separated)", required: true, placeholder: "weather, range" };
        const noGo = (v) => (stations.length ? v.stations : splitList(v.stations));
        values = await confirmAction({
          title: "Poll: NO-GO",
          lines: ["The count stays holding."],
          fields: [field],
          request: (v) => `POST /api/countdown/poll\n${JSON.stringify({ go: false, no_go: noGo(v) })}`,
          yes: "NO-GO",
          danger: true,
        });
        if (!values) return;
        path = "poll";
        body = { go: false, no_go: noGo(values) };
        break;
      }
      default:
        return;
    }
    await this.post(path, body, `${label(action)} requested`);
  }

  async post(path, body, done) {
    try {
      const state = await this.api.post(`/api/countdown/${path}`, body);
      toast(`${done}: count ${label(state && state.state)}`, "ok");
    } catch (err) {
      toast(`${path}: ${err.detail}`);
    }
  }
}

function splitList(text) {
  return String(text || "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}
