// What the console knows: the pad description, the latest channel values with their
// quality, the countdown state, alarms, armings, and who is logged in. Panels subscribe to
// topics and redraw from here; the stream and the REST calls only ever write here.

import { Q } from "./util.js";

export class Store {
  constructor() {
    this.pad = null;
    this.channels = new Map(); // id -> channel description from /api/pad
    this.commands = new Map(); // id -> command description
    this.valves = new Map(); // id -> valve description
    this.values = new Map(); // id -> {v, q, t}
    this.state = null;
    this.stateReceivedAt = 0; // performance.now() of the last state
    this.alarms = [];
    this.armings = [];
    this.me = { user: "", roles: [] };
    this.linkLive = false;
    this.lastMessageAt = 0;
    this.listeners = new Map();
  }

  on(topic, listener) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(listener);
  }

  emit(topic, detail) {
    for (const listener of this.listeners.get(topic) ?? []) {
      try {
        listener(detail);
      } catch (err) {
        // One panel's bug must not stop the others from updating.
        console.error(`listener for ${topic} failed`, err);
      }
    }
  }

  setPad(pad) {
    this.pad = pad;
    this.channels = new Map(pad.channels.map((c) => [c.id, c]));
    this.commands = new Map(pad.commands.map((c) => [c.id, c]));
    this.valves = new Map(pad.valves.map((v) => [v.id, v]));
    this.emit("pad", pad);
  }

  setMe(me) {
    this.me = { user: me.user, roles: me.roles || [], access: me.access || {} };
    this.emit("me", this.me);
  }

  hasRole(...roles) {
    return roles.some((r) => this.me.roles.includes(r));
  }

  /**
   * The quality to show: while the link is down every value is at best stale, whatever
   * it was when it arrived.
   */
  quality(id) {
    const entry = this.values.get(id);
    if (!entry) return Q.STALE;
    if (!this.linkLive && entry.q !== Q.INVALID) return Q.STALE;
    return entry.q;
  }

  value(id) {
    const entry = this.values.get(id);
    return entry ? entry.v : null;
  }

  /** A stream message: a snapshot replaces everything, an update merges. */
  apply(message) {
    this.lastMessageAt = performance.now();
    const changed = new Set();
    if (message.type === "snapshot") {
      for (const id of this.values.keys()) changed.add(id);
      this.values.clear();
    }
    for (const [id, [v, q, t]] of Object.entries(message.values || {})) {
      this.values.set(id, { v, q, t });
      changed.add(id);
    }
    if (message.state) this.setState(message.state, message.time);
    if (message.alarms) this.setAlarms(message.alarms);
    if (message.armings) this.setArmings(message.armings);
    if (changed.size || message.type === "snapshot") {
      this.emit("values", { changed, all: message.type === "snapshot", time: message.time });
    }
    if (message.events && message.events.length) this.emit("events", { events: message.events, snapshot: message.type === "snapshot" });
    if (message.type === "snapshot") this.emit("snapshot", message);
  }

  setState(state, serverTime) {
    // The header shows the next step; if a state message does not carry it, work it out
    // from the plan the way the server does.
    if (!("next_step" in state) && this.pad) state = { ...state, next_step: this.nextStep(state) };
    this.state = state;
    this.stateReceivedAt = performance.now();
    this.emit("state", { state, serverTime });
  }

  /** The step operators wait for: the current one until it starts, then the one after. */
  nextStep(state) {
    const steps = this.pad.steps || [];
    const index = steps.findIndex((s) => s.id === state.step);
    if (index < 0) return null;
    const step = state.step_status === "pending" ? steps[index] : steps[index + 1];
    return step ? { id: step.id, at_t_s: step.at_t_s, description: step.description } : null;
  }

  setAlarms(alarms) {
    this.alarms = alarms;
    this.emit("alarms", alarms);
  }

  setArmings(armings) {
    this.armings = armings;
    this.armingsReceivedAt = performance.now();
    this.emit("armings", armings);
  }

  setLink(live) {
    if (this.linkLive === live) return;
    this.linkLive = live;
    this.emit("link", live);
    // Every value's shown quality depends on the link: redraw them all.
    this.emit("values", { changed: new Set(this.values.keys()), all: true });
  }
}
