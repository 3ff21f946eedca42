// The header: T-clock and L-clock, count state, phase, step, next step, alarm count, link.
//
// The clocks tick at 10 Hz between the server's updates by extrapolating from the last
// state at the rate the server's own values have been moving. The rate is measured, not
// assumed: a demo runs the count clock at 60x, the pad at 1x, and the T-clock stops in
// holds while the L-clock never does. Extrapolation is capped at one second past the last
// message, so when updates stop the clocks stop too rather than run on a guess.

import { formatL, formatT, label, setText, stepTime } from "./util.js";

const MAX_EXTRAPOLATION_S = 1.0;
const RATE_WINDOW_S = 3.0;

/** Measures how fast a server value moves per local second, from recent samples. */
class RateEstimator {
  constructor() {
    this.samples = [];
  }

  reset() {
    this.samples = [];
  }

  /** Add a sample; a jump (recycle, restart) the current rate does not explain resets. */
  add(local, value) {
    if (value === null || value === undefined) {
      this.reset();
      return;
    }
    const last = this.samples[this.samples.length - 1];
    // Only a rate already measured can call a value a jump (before that, anything goes).
    if (last && this.measured()) {
      const predicted = last.value + this.rate() * (local - last.local);
      if (Math.abs(predicted - value) > Math.max(2, Math.abs(this.rate()) * 2)) this.reset();
    }
    this.samples.push({ local, value });
    while (this.samples.length > 2 && local - this.samples[0].local > RATE_WINDOW_S) this.samples.shift();
  }

  measured() {
    const n = this.samples.length;
    return n > 1 && this.samples[n - 1].local - this.samples[0].local >= 0.5;
  }

  rate() {
    if (!this.measured()) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    return (last.value - first.value) / (last.local - first.local);
  }
}

export class Header {
  constructor(store) {
    this.store = store;
    this.tRate = new RateEstimator();
    this.lRate = new RateEstimator();
    this.lastStateName = null;
    this.nodes = {
      t: document.getElementById("t-clock"),
      l: document.getElementById("l-clock"),
      state: document.getElementById("count-state"),
      reason: document.getElementById("count-hold-reason"),
      phase: document.getElementById("phase"),
      step: document.getElementById("step"),
      stepStatus: document.getElementById("step-status"),
      next: document.getElementById("next-step"),
      nextT: document.getElementById("next-step-t"),
      alarms: document.getElementById("alarm-count"),
      link: document.getElementById("link-status"),
      banner: document.getElementById("link-banner"),
      mode: document.getElementById("data-mode"),
      whoami: document.getElementById("whoami"),
    };
    store.on("state", ({ state }) => this.onState(state));
    store.on("me", (me) => {
      this.nodes.whoami.textContent = `${me.user} (${me.roles.join(", ") || "no role"})`;
    });
    store.on("values", ({ changed }) => this.noteDataMode(changed));
    this.timer = setInterval(() => this.tick(), 100);
  }

  onState(state) {
    const now = performance.now() / 1000;
    const generation = state.replay ? state.replay.generation : null;
    if (state.state !== this.lastStateName || generation !== this.lastGeneration) {
      // A new state changes the rate (a hold stops T), a replay's seek jumps it: measure afresh.
      this.tRate.reset();
      this.lastStateName = state.state;
      this.lastGeneration = generation;
    }
    this.tRate.add(now, state.t_s);
    this.lRate.add(now, state.l_s);

    // Ten times a second, mostly unchanged: only differences reach the DOM.
    const key = JSON.stringify([state.state, state.hold_reason, state.phase, state.step, state.step_status, state.next_step, state.unacknowledged_alarms]);
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.drawState(state);
    }
    this.tick();
  }

  drawState(state) {
    const n = this.nodes;
    n.state.textContent = label(state.state);
    n.state.dataset.state = state.state || "";
    document.body.dataset.countState = state.state || "";
    const stations = state.state === "polling" && state.poll && state.poll.length ? `GO/NO-GO poll: ${state.poll.join(", ")}` : "";
    const reason = [state.hold_reason || "", stations].filter(Boolean).join(" · ");
    n.reason.textContent = reason && (state.state === "holding" || state.state === "polling") ? reason : "";
    n.reason.title = n.reason.textContent;
    n.phase.textContent = state.phase ? label(state.phase) : "-";
    n.step.textContent = state.step || "-";
    n.stepStatus.textContent = state.step_status ? label(state.step_status) : "";
    n.stepStatus.dataset.status = state.step_status || "";
    const next = state.next_step;
    n.next.textContent = next ? next.id : "-";
    n.next.title = next && next.description ? next.description : "";
    n.nextT.textContent = next ? stepTime(next.at_t_s) : "";

    const unack = state.unacknowledged_alarms ?? 0;
    n.alarms.querySelector(".n").textContent = String(unack);
    n.alarms.dataset.count = String(unack);
  }

  /** 10 Hz: extrapolated clocks and the link's freshness. */
  tick() {
    const store = this.store;
    const state = store.state;
    if (state) {
      const elapsed = Math.min(MAX_EXTRAPOLATION_S, (performance.now() - store.stateReceivedAt) / 1000);
      const live = store.linkLive;
      const t = state.t_s === null || state.t_s === undefined ? null : state.t_s + (live ? this.tRate.rate() * elapsed : 0);
      const l = state.l_s === null || state.l_s === undefined ? null : state.l_s + (live ? this.lRate.rate() * elapsed : 0);
      setText(this.nodes.t, formatT(t));
      setText(this.nodes.l, formatL(l));
    }
    this.drawLink();
  }

  drawLink() {
    const store = this.store;
    const node = this.nodes.link;
    const text = node.querySelector(".text");
    if (!store.linkLive) return;
    const quiet = (performance.now() - store.lastMessageAt) / 1000;
    const status = quiet > 3 ? "quiet" : "live";
    if (node.dataset.link !== status) node.dataset.link = status;
    // A replay's stream is live, its data is not: say which.
    const live = store.state && store.state.replay ? "replay" : "live";
    setText(text, status === "quiet" ? `no data ${Math.floor(quiet)} s` : live);
  }

  /** Called by the stream: "connecting", "live" or "lost" (with seconds to the next try). */
  setLink(status, retryIn, why = "") {
    const node = this.nodes.link;
    node.dataset.link = status;
    node.querySelector(".text").textContent = status === "lost" ? "LINK LOST" : status;
    const banner = this.nodes.banner;
    banner.hidden = status === "live";
    document.body.classList.toggle("link-lost", status !== "live");
    banner.querySelector(".retry").textContent =
      status === "lost" ? `${why ? `${why}. ` : ""}Reconnecting in ${retryIn.toFixed(1)} s.` : status === "connecting" ? "Connecting..." : "";
    if (status !== "live") {
      this.tRate.reset();
      this.lRate.reset();
    }
  }

  /** Say so in the header when the values are simulated or replayed, not live hardware. */
  noteDataMode(changed) {
    let simulated = false;
    let replayed = false;
    for (const id of changed) {
      const entry = this.store.values.get(id);
      if (!entry) continue;
      if (entry.q === 3) simulated = true;
      else if (entry.q === 4) replayed = true;
      if (simulated && replayed) break;
    }
    if (!simulated && !replayed) return;
    const mode = replayed ? "REPLAYED DATA" : "SIMULATED DATA";
    this.nodes.mode.hidden = false;
    this.nodes.mode.textContent = mode;
  }
}
