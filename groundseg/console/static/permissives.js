// The permissive matrix of the current or next step: each condition green, red or grey,
// and why. Polled once a second (it is computed on request, not streamed).

import { el, replaceChildren, stepTime } from "./util.js";

const PERIOD_MS = 1000;

export class Permissives {
  constructor(store, api) {
    this.store = store;
    this.api = api;
    this.box = document.getElementById("permissives");
    this.stepNode = document.getElementById("permissive-step");
    this.running = false;
    this.timer = null;
    this.lastText = "";
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.poll();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  // One request at a time: the next is scheduled only when this one has answered, so a
  // slow controller is never queued up on.
  async poll() {
    if (!this.running) return;
    let delay = PERIOD_MS;
    try {
      this.draw(await this.api.get("/api/permissives"));
    } catch (err) {
      if (err.status === 401) return;
      if (err.status === 429) delay = 5000;
      this.stepNode.textContent = `unavailable: ${err.detail}`;
      this.box.classList.add("stale");
    }
    if (this.running) this.timer = setTimeout(() => this.poll(), delay);
  }

  draw(matrix) {
    this.box.classList.remove("stale");
    const text = JSON.stringify(matrix);
    if (text === this.lastText) return; // nothing changed: keep the DOM (and any selection)
    this.lastText = text;
    const step = matrix.step;
    this.stepNode.textContent = step ? `${step.id}${step.at_t_s !== null && step.at_t_s !== undefined ? ` at ${stepTime(step.at_t_s)}` : ""}` : "no step ahead";
    this.stepNode.title = step && step.description ? step.description : "";

    // One row per condition: an interlock guarding several of the step's commands is
    // listed once, with the commands it guards.
    const merged = new Map();
    for (const row of matrix.rows || []) {
      const existing = merged.get(row.name);
      if (existing) {
        if (row.command && !existing.commands.includes(row.command)) existing.commands.push(row.command);
      } else {
        merged.set(row.name, { ...row, commands: row.command ? [row.command] : [] });
      }
    }
    if (!merged.size) {
      replaceChildren(this.box, el("p", { class: "empty" }, step ? "No conditions: nothing holds this step back." : "No step ahead."));
      return;
    }
    const counts = { true: 0, false: 0, unknown: 0 };
    const rows = [...merged.values()].map((row) => {
      counts[row.truth] = (counts[row.truth] ?? 0) + 1;
      return el(
        "div",
        { class: `permissive truth-${row.truth}`, dataset: { permissive: row.name, truth: row.truth, kind: row.kind } },
        el("div", { class: "p-mark", title: row.truth }, { true: "GO", false: "NO", unknown: "?" }[row.truth] ?? "?"),
        el(
          "div",
          { class: "p-main" },
          el("div", { class: "p-head" }, el("span", { class: "p-kind" }, row.kind), " ", el("span", { class: "p-name" }, row.name), row.commands.length ? el("span", { class: "p-cmds" }, ` for ${row.commands.join(", ")}`) : null),
          el("div", { class: "p-cond", title: row.condition }, row.condition),
          row.why ? el("div", { class: "p-why" }, row.why) : null,
        ),
      );
    });
    const summary = el("div", { class: "p-summary" }, `${counts.true} green, ${counts.false} red, ${counts.unknown} unknown`);
    replaceChildren(this.box, summary, rows);
  }
}
