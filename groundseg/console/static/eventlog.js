// The event log: newest at the top, the last 500 kept, a filter box. Events are numbered
// by the server (`seq`); after a reconnect the ones the stream did not bring again are
// fetched with GET /api/events?after=SEQ.

import { el, utcTenths } from "./util.js";

const KEEP = 500;

export class EventLog {
  constructor(store, api) {
    this.store = store;
    this.api = api;
    this.box = document.getElementById("event-log");
    this.filter = document.getElementById("event-filter");
    this.lastSeq = 0;
    this.seen = new Set();
    this.filter.addEventListener("input", () => this.applyFilter());
    store.on("events", ({ events, snapshot }) => (snapshot ? this.onSnapshot(events) : this.add(events)));
  }

  clear() {
    this.box.replaceChildren();
    this.seen.clear();
    this.lastSeq = 0;
  }

  async onSnapshot(events) {
    const newest = events.reduce((m, e) => Math.max(m, e.seq), 0);
    // Numbers going backwards mean the controller restarted: its log starts afresh.
    if (newest && newest < this.lastSeq) this.clear();
    const oldest = events.reduce((m, e) => Math.min(m, e.seq), Infinity);
    if (this.lastSeq && oldest > this.lastSeq + 1) {
      try {
        this.add(await this.api.get(`/api/events?after=${this.lastSeq}&limit=${KEEP}`));
      } catch {
        // The stream's own events are still shown; the gap stays a gap.
      }
    }
    this.add(events);
  }

  /** Add events (any order, duplicates ignored), newest at the top. */
  add(events) {
    const fresh = events.filter((e) => !this.seen.has(e.seq)).sort((a, b) => a.seq - b.seq);
    if (!fresh.length) return;
    const words = this.words();
    // Rows are kept in seq order, newest first; fresh events are usually all newer.
    for (const event of fresh) {
      this.seen.add(event.seq);
      const row = this.row(event, words);
      if (event.seq > this.lastSeq) {
        this.box.prepend(row);
        this.lastSeq = event.seq;
      } else {
        const after = [...this.box.children].find((r) => Number(r.dataset.seq) < event.seq);
        this.box.insertBefore(row, after ?? null);
      }
    }
    while (this.box.children.length > KEEP) {
      this.seen.delete(Number(this.box.lastChild.dataset.seq));
      this.box.lastChild.remove();
    }
  }

  row(event, words) {
    const fields = event.fields && Object.keys(event.fields).length
      ? Object.entries(event.fields).map(([k, v]) => `${k}=${v}`).join(" ")
      : "";
    const row = el(
      "div",
      { class: `event sev-${event.severity}`, dataset: { seq: event.seq, kind: event.kind }, title: `${event.kind}${fields ? `\n${fields}` : ""}` },
      el("span", { class: "ev-time" }, utcTenths(event.time)),
      el("span", { class: "ev-src" }, event.source),
      el("span", { class: "ev-msg" }, event.message || event.kind),
    );
    row.dataset.search = `${event.kind} ${event.source} ${event.severity} ${event.message} ${fields}`.toLowerCase();
    row.hidden = !this.matches(row, words);
    return row;
  }

  words() {
    return this.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
  }

  matches(row, words) {
    return words.every((w) => row.dataset.search.includes(w));
  }

  applyFilter() {
    const words = this.words();
    for (const row of this.box.children) row.hidden = !this.matches(row, words);
  }
}
