// The alarm list: what needs an operator's attention, most urgent first. Unacknowledged
// alarms pulse until acknowledged; shelving hides an alarm from annunciation for a while
// (the monitor still acts on its condition).

import { confirmAction, toast } from "./dialogs.js";
import { gate, whyNot } from "./roles.js";
import { el, label, replaceChildren } from "./util.js";

const SEVERITY_RANK = { critical: 0, alarm: 1, warning: 2 };
const WAITING = new Set(["active", "unacknowledged-cleared"]);

export class AlarmList {
  constructor(store, api) {
    this.store = store;
    this.api = api;
    this.box = document.getElementById("alarms");
    this.summary = document.getElementById("alarm-summary");
    store.on("alarms", () => this.draw());
    store.on("me", () => this.draw());
    document.getElementById("alarm-count").addEventListener("click", () => {
      this.box.scrollTop = 0;
      this.box.closest(".panel").scrollIntoView({ block: "nearest" });
    });
  }

  draw() {
    const store = this.store;
    // Redraw only what would look different (the list is rebuilt, restarting the blink).
    const key = JSON.stringify([store.alarms, store.me.roles]);
    if (key === this.lastKey) return;
    this.lastKey = key;
    const alarms = [...(store.alarms || [])].sort(
      (a, b) =>
        Number(a.state === "shelved") - Number(b.state === "shelved") ||
        Number(WAITING.has(b.state)) - Number(WAITING.has(a.state)) ||
        (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9) ||
        a.id.localeCompare(b.id),
    );
    const waiting = alarms.filter((a) => WAITING.has(a.state)).length;
    this.summary.textContent = alarms.length ? `${alarms.length} on the board, ${waiting} unacknowledged` : "";
    if (!alarms.length) {
      replaceChildren(this.box, el("p", { class: "empty" }, "No alarms."));
      return;
    }
    const ackWhy = whyNot(store, "alarm_acknowledge");
    const shelveWhy = whyNot(store, "alarm_shelve");
    replaceChildren(
      this.box,
      alarms.map((alarm) => {
        const unack = WAITING.has(alarm.state);
        const row = el("div", {
          class: `alarm sev-${alarm.severity}${unack ? " unack" : ""}${alarm.state === "shelved" ? " shelved" : ""}`,
          dataset: { alarm: alarm.id, state: alarm.state, severity: alarm.severity },
        });
        const who = [];
        if (alarm.acknowledged_by) who.push(`ack ${alarm.acknowledged_by}`);
        if (alarm.state === "shelved") who.push(`shelved by ${alarm.shelved_by}${alarm.shelved_for_s !== null && alarm.shelved_for_s !== undefined ? `, ${Math.ceil(alarm.shelved_for_s / 60)} min left` : ""}`);
        if (!alarm.condition_active) who.push("condition gone");
        if (alarm.latched) who.push("latched");
        row.append(
          el(
            "div",
            { class: "alarm-main" },
            el("div", { class: "alarm-msg" }, el("span", { class: "alarm-sev" }, label(alarm.severity)), alarm.message || alarm.id),
            el("div", { class: "alarm-meta" }, el("span", { class: "alarm-state" }, label(alarm.state)), " ", el("span", { class: "alarm-id" }, alarm.id), who.length ? ` (${who.join("; ")})` : ""),
          ),
        );
        const ack = el("button", { type: "button", class: "btn small ack" }, "Ack");
        gate(ack, ackWhy || (unack ? "" : "already acknowledged"), "Acknowledge");
        ack.addEventListener("click", () => this.acknowledge(alarm));
        const shelve = el("button", { type: "button", class: "btn small shelve" }, "Shelve");
        gate(shelve, shelveWhy || (alarm.state === "shelved" ? "already shelved" : ""), "Hide from annunciation for a while (the monitor still acts)");
        shelve.addEventListener("click", () => this.shelve(alarm));
        row.append(el("div", { class: "alarm-actions" }, ack, shelve));
        return row;
      }),
    );
  }

  async acknowledge(alarm) {
    try {
      await this.api.post(`/api/alarms/${encodeURIComponent(alarm.id)}/acknowledge`, {});
    } catch (err) {
      toast(`acknowledge ${alarm.id}: ${err.detail}`);
    }
  }

  async shelve(alarm) {
    const values = await confirmAction({
      title: `Shelve ${alarm.id}`,
      lines: [alarm.message, "Shelving hides the alarm; it does not disable the rule behind it. It returns unacknowledged if its condition is still present when the shelve ends."],
      fields: [
        {
          name: "for_s",
          label: "For",
          type: "select",
          value: 600,
          options: [
            { value: 300, label: "5 min" },
            { value: 600, label: "10 min" },
            { value: 1800, label: "30 min" },
            { value: 3600, label: "1 h" },
            { value: 7200, label: "2 h" },
            { value: 28800, label: "8 h" },
          ],
        },
      ],
      request: (v) => `POST /api/alarms/${alarm.id}/shelve\n${JSON.stringify({ for_s: Number(v.for_s) })}`,
      yes: "Shelve",
    });
    if (!values) return;
    try {
      await this.api.post(`/api/alarms/${encodeURIComponent(alarm.id)}/shelve`, { for_s: Number(values.for_s) });
    } catch (err) {
      toast(`shelve ${alarm.id}: ${err.detail}`);
    }
  }
}
