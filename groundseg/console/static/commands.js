// The command panel: choose a pad command, give its argument, confirm, send; hazardous
// commands are armed instead, then approved (two-person) and executed from the armings
// list. The result line says what the gate did: verified in N ms, vetoed and why,
// refused, or not verified.

import { confirmAction, toast } from "./dialogs.js";
import { gate, whyNot } from "./roles.js";
import { displayUnit, el, replaceChildren } from "./util.js";

export class CommandPanel {
  constructor(store, api) {
    this.store = store;
    this.api = api;
    this.select = document.getElementById("command-select");
    this.filter = document.getElementById("command-filter");
    this.info = document.getElementById("command-info");
    this.argRow = document.getElementById("command-argument-row");
    this.argInput = document.getElementById("command-argument");
    this.argLabel = document.getElementById("command-argument-label");
    this.argRange = document.getElementById("command-argument-range");
    this.sendButton = document.getElementById("command-send");
    this.armButton = document.getElementById("command-arm");
    this.result = document.getElementById("command-result");
    this.armingsBox = document.getElementById("armings");
    this.busy = false;

    this.select.addEventListener("change", () => this.onChoose());
    this.filter.addEventListener("input", () => this.applyFilter());
    this.filter.addEventListener("keydown", (event) => {
      // Enter in the filter picks the first command that matches.
      if (event.key === "Enter") {
        event.preventDefault();
        const first = [...this.select.options].find((o) => !o.hidden);
        if (first) {
          this.select.value = first.value;
          this.onChoose();
        }
      }
    });
    this.sendButton.addEventListener("click", () => this.send());
    this.armButton.addEventListener("click", () => this.arm());
    this.argInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        (this.armButton.hidden ? this.sendButton : this.armButton).click();
      }
    });
    store.on("pad", () => this.build());
    store.on("me", () => {
      this.onChoose();
      this.drawArmings();
    });
    store.on("armings", () => this.drawArmings());
    // Seconds left on each arming count down locally between the server's updates.
    setInterval(() => this.tickArmings(), 250);
  }

  get command() {
    return this.store.commands.get(this.select.value) ?? null;
  }

  build() {
    const commands = [...this.store.commands.values()].sort((a, b) => a.id.localeCompare(b.id));
    replaceChildren(
      this.select,
      commands.map((c) => {
        const flags = [c.hazardous ? "ARM" : "", c.two_person ? "2P" : "", c.safing ? "SAFE" : ""].filter(Boolean).join(" ");
        const option = el("option", { value: c.id, title: c.description }, `${c.id}${flags ? `  [${flags}]` : ""}  ${c.description ? `- ${c.description}` : ""}`);
        option.dataset.search = `${c.id} ${c.description} ${c.device}`.toLowerCase();
        return option;
      }),
    );
    this.select.selectedIndex = -1;
    this.onChoose();
  }

  applyFilter() {
    const words = this.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const option of this.select.options) option.hidden = !words.every((w) => option.dataset.search.includes(w));
  }

  /** Select a command from elsewhere (the synoptic's valve panel), ready to send. */
  prefill(commandId) {
    if (!this.store.commands.has(commandId)) {
      toast(`the pad has no command ${commandId}`);
      return;
    }
    this.filter.value = "";
    this.applyFilter();
    this.select.value = commandId;
    this.onChoose();
    this.select.options[this.select.selectedIndex]?.scrollIntoView({ block: "nearest" });
    const panel = this.select.closest(".panel");
    panel.classList.remove("flash");
    void panel.offsetWidth; // restart the highlight animation
    panel.classList.add("flash");
    (this.command?.parameter ? this.argInput : this.armButton.hidden ? this.sendButton : this.armButton).focus();
  }

  onChoose() {
    const command = this.command;
    if (!command) {
      replaceChildren(this.info, el("span", { class: "muted" }, "Choose a command."));
      this.argRow.hidden = true;
      this.armButton.hidden = true;
      this.sendButton.hidden = false;
      gate(this.sendButton, "choose a command first");
      return;
    }
    const badges = [];
    if (command.hazardous) badges.push(el("span", { class: "badge warn" }, "HAZARDOUS: arm, then execute"));
    if (command.two_person) badges.push(el("span", { class: "badge warn" }, "TWO-PERSON"));
    if (command.safing) badges.push(el("span", { class: "badge safe" }, "SAFING"));
    replaceChildren(
      this.info,
      el("div", { class: "cmd-desc" }, command.description || command.id),
      el("div", { class: "cmd-meta" }, `device ${command.device || "-"}; roles ${(command.roles || []).join(", ") || "-"}`),
      badges.length ? el("div", { class: "badges" }, badges) : null,
    );
    const parameter = command.parameter;
    this.argRow.hidden = !parameter;
    if (parameter) {
      const unit = displayUnit(parameter.unit);
      this.argLabel.textContent = `${parameter.name}${unit ? ` (${unit})` : ""}`;
      this.argRange.textContent = `${parameter.low} to ${parameter.high}${unit ? ` ${unit}` : ""}`;
      this.argInput.min = String(parameter.low);
      this.argInput.max = String(parameter.high);
      this.argInput.value = "";
    }
    this.sendButton.hidden = command.hazardous;
    this.armButton.hidden = !command.hazardous;
    gate(this.sendButton, this.busy ? "a command is on its way" : whyNot(this.store, "command_send", command), "Send (asks for confirmation)");
    gate(this.armButton, this.busy ? "a command is on its way" : whyNot(this.store, "command_arm", command), "Arm (asks for confirmation); then execute from the armed list");
  }

  /** The argument to send: null when the command takes none; throws a message if wrong. */
  argument() {
    const parameter = this.command.parameter;
    if (!parameter) return null;
    const text = this.argInput.value.trim();
    if (text === "") throw new Error(`${parameter.name}: a value is required (${parameter.low} to ${parameter.high})`);
    const value = Number(text);
    if (!Number.isFinite(value)) throw new Error(`${parameter.name}: not a number`);
    if (value < parameter.low || value > parameter.high) throw new Error(`${parameter.name}: ${value} is outside ${parameter.low} to ${parameter.high} ${parameter.unit}`);
    return value;
  }

  showResult(kind, text, details = []) {
    this.result.dataset.kind = kind;
    replaceChildren(this.result, el("div", { class: "headline" }, text), details.length ? el("ul", {}, details.map((d) => el("li", {}, d))) : null);
  }

  async send() {
    await this.issue("send");
  }

  async arm() {
    await this.issue("arm");
  }

  async issue(mode) {
    const command = this.command;
    if (!command) return;
    let argument;
    try {
      argument = this.argument();
    } catch (err) {
      this.showResult("error", err.message);
      this.argInput.focus();
      return;
    }
    const body = argument === null ? {} : { argument };
    const path = mode === "arm" ? `/api/commands/${command.id}/arm` : `/api/commands/${command.id}`;
    const unit = command.parameter ? displayUnit(command.parameter.unit) : "";
    const ok = await confirmAction({
      title: mode === "arm" ? `Arm ${command.id}` : `Send ${command.id}`,
      lines: [
        command.description || command.id,
        argument === null ? "No argument." : `${command.parameter.name} = ${argument} ${unit}`,
        mode === "arm"
          ? `Arming sends nothing to the pad: you execute it afterwards${command.two_person ? ", once another person has approved it" : ""}.`
          : "The gate checks the interlocks, writes, and verifies by readback.",
      ],
      request: () => `POST ${path}\n${JSON.stringify(body)}`,
      yes: mode === "arm" ? "Arm" : "Send",
      danger: command.hazardous,
    });
    if (!ok) {
      this.showResult("info", `${command.id}: cancelled, nothing sent`);
      return;
    }
    this.busy = true;
    this.onChoose();
    this.showResult("pending", `${command.id}: ${mode === "arm" ? "arming" : "sent, waiting for readback"}...`);
    try {
      const answer = await this.api.post(path, body);
      if (mode === "arm") {
        this.showResult("ok", `${command.id}: armed, expires in ${Math.round(answer.expires_in_s)} s`, [
          answer.two_person ? "Two-person: another user must approve before you execute." : "Execute it from the armed list below.",
        ]);
        this.refreshArmings();
      } else {
        this.showResult("ok", `${answer.command}: verified in ${formatMs(answer.verified_after_s)}`);
      }
    } catch (err) {
      this.showError(command.id, err);
    } finally {
      this.busy = false;
      this.onChoose();
    }
  }

  showError(what, err) {
    const body = err.body || {};
    const headline = {
      409: body.error === "vetoed" ? "vetoed" : "refused",
      403: "refused",
      504: "not verified",
      422: "rejected",
      429: "rate limited",
      503: "refused",
      502: "failed",
      0: "no answer",
    }[err.status] ?? "failed";
    const details = [...(body.reasons || []), ...(body.mismatches || [])].map(String);
    this.showResult("error", `${what}: ${headline}: ${err.detail}`, details);
  }

  // -- armings ---------------------------------------------------------------------------

  async refreshArmings() {
    try {
      const state = await this.api.get("/api/state");
      if (state && Array.isArray(state.armings)) this.store.setArmings(state.armings);
    } catch {
      // The stream brings armings too; a failed refresh only delays the list.
    }
  }

  drawArmings() {
    const store = this.store;
    const armings = store.armings || [];
    if (!armings.length) {
      replaceChildren(this.armingsBox, el("p", { class: "empty" }, "none"));
      return;
    }
    const me = store.me.user;
    const rows = armings.map((a) => {
      const command = store.commands.get(a.command);
      const mine = a.armed_by === me;
      const row = el("div", { class: "arming", dataset: { arming: a.token, expires: String(a.expires_in_s) } });
      row.append(
        el("div", { class: "arming-head" }, el("strong", {}, a.command), a.argument === null || a.argument === undefined ? null : el("span", { class: "arg" }, ` = ${a.argument}${command?.parameter ? ` ${displayUnit(command.parameter.unit)}` : ""}`), el("span", { class: "left" }, "")),
        el(
          "div",
          { class: "arming-meta" },
          `armed by ${a.armed_by}`,
          a.two_person ? (a.approved_by ? `; approved by ${a.approved_by}` : "; awaiting approval by a second person") : "",
        ),
      );
      const actions = el("div", { class: "arming-actions" });
      if (a.two_person && !a.approved_by && !mine) {
        const approve = el("button", { type: "button", class: "btn small approve" }, "Approve");
        gate(approve, whyNot(store, "arming_approve"), "Approve as the second person");
        approve.addEventListener("click", () => this.armingAction(a, "approve"));
        actions.append(approve);
      }
      if (mine) {
        const execute = el("button", { type: "button", class: "btn small warn execute" }, "Execute");
        let why = whyNot(store, "arming_execute", command);
        if (!why && a.two_person && !a.approved_by) why = "waiting for a second person's approval";
        gate(execute, why, "Execute: the gate checks the interlocks, writes and verifies");
        execute.addEventListener("click", () => this.armingAction(a, "execute"));
        actions.append(execute);
      }
      const disarm = el("button", { type: "button", class: "btn small disarm" }, "Disarm");
      gate(disarm, whyNot(store, "arming_disarm"), "Withdraw this arming");
      disarm.addEventListener("click", () => this.armingAction(a, "disarm"));
      actions.append(disarm);
      row.append(actions);
      return row;
    });
    replaceChildren(this.armingsBox, rows);
    this.tickArmings();
  }

  tickArmings() {
    const received = this.store.armingsReceivedAt ?? performance.now();
    const elapsed = (performance.now() - received) / 1000;
    for (const row of this.armingsBox.querySelectorAll("[data-arming]")) {
      const left = Number(row.dataset.expires) - elapsed;
      row.querySelector(".left").textContent = left > 0 ? `${Math.ceil(left)} s left` : "expired";
      row.classList.toggle("expired", left <= 0);
      row.classList.toggle("urgent", left > 0 && left < 10);
    }
  }

  async armingAction(arming, action) {
    const path = `/api/armings/${encodeURIComponent(arming.token)}/${action}`;
    const what = `${arming.command}${arming.argument === null || arming.argument === undefined ? "" : ` = ${arming.argument}`}`;
    const text = {
      approve: [`Approve ${what}`, `Armed by ${arming.armed_by}. Your approval lets them execute it.`],
      execute: [`Execute ${what}`, "The gate checks the interlocks, writes to the pad and verifies by readback."],
      disarm: [`Disarm ${what}`, "Withdraws the arming; nothing is sent to the pad."],
    }[action];
    const ok = await confirmAction({
      title: text[0],
      lines: [text[1]],
      request: () => `POST ${path}\n{}`,
      yes: action[0].toUpperCase() + action.slice(1),
      danger: action === "execute",
    });
    if (!ok) return;
    try {
      const answer = await this.api.post(path, {});
      if (action === "execute") this.showResult("ok", `${answer.command}: verified in ${formatMs(answer.verified_after_s)}`);
      else if (action === "approve") this.showResult("ok", `${answer.command}: approved by ${answer.approved_by}`);
      else this.showResult("info", answer.detail || `${arming.command} disarmed`);
    } catch (err) {
      this.showError(`${action} ${arming.command}`, err);
      toast(`${action} ${arming.command}: ${err.detail}`);
    }
    this.refreshArmings();
  }
}

function formatMs(seconds) {
  return Number.isFinite(seconds) ? `${Math.round(seconds * 1000)} ms` : "? ms";
}
