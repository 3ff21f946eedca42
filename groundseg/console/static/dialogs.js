// The confirmation dialog and toasts.
//
// Everything that acts on the pad or the count passes through one dialog (#confirm-dialog)
// that states exactly what will be sent. It is deliberately non-modal: the header's HOLD
// and ABORT stay clickable while it is open, and asking for a new confirmation (an abort
// while a command waits for its "yes") replaces the pending one, which counts as "no".

import { el, replaceChildren } from "./util.js";

const dialog = () => document.getElementById("confirm-dialog");
let pending = null; // {resolve} of the confirmation on screen

/**
 * Ask for confirmation. Resolves with the fields' values ({} when there are none) on
 * "yes", or null on "no".
 *
 * @param {object} options
 * @param {string} options.title
 * @param {string[]} [options.lines] plain sentences shown above the request
 * @param {(values: object) => string} [options.request] the exact request, redrawn as fields change
 * @param {object[]} [options.fields] {name, id, label, type: "text"|"number"|"select"|"checks", value, options, min, max, required}
 *   ("checks": a box per option, its value the list of those ticked)
 * @param {string} [options.typed] a word the user must type to confirm (ABORT)
 * @param {string} [options.yes] label of the confirm button
 * @param {boolean} [options.danger]
 */
export function confirmAction(options) {
  if (pending) finish(null);
  const box = dialog();
  const { title, lines = [], request, fields = [], typed, yes = "Confirm", danger = false } = options;

  document.getElementById("confirm-title").textContent = title;
  replaceChildren(document.getElementById("confirm-body"), lines.map((line) => el("p", {}, line)));

  const inputs = new Map();
  const fieldNodes = fields.map((field) => {
    let input;
    if (field.type === "checks") {
      const boxes = field.options.map((o) => el("input", { type: "checkbox", name: field.name, value: o.value }));
      input = el("div", { class: "confirm-checks", id: field.id }, field.options.map((o, i) => el("label", {}, boxes[i], o.label)));
      input.ticked = () => boxes.filter((box) => box.checked).map((box) => box.value);
      inputs.set(field.name, { input, field });
      return el("div", { class: "confirm-field" }, el("span", {}, field.label), input);
    }
    if (field.type === "select") {
      input = el("select", { name: field.name, id: field.id }, field.options.map((o) => el("option", { value: o.value }, o.label)));
      if (field.value !== undefined) input.value = String(field.value);
    } else {
      input = el("input", {
        name: field.name,
        id: field.id,
        type: field.type || "text",
        value: field.value ?? "",
        min: field.min,
        max: field.max,
        step: field.type === "number" ? "any" : null,
        placeholder: field.placeholder,
        autocomplete: "off",
        spellcheck: "false",
      });
    }
    inputs.set(field.name, { input, field });
    return el("label", { class: "confirm-field" }, el("span", {}, field.label), input);
  });
  let typedInput = null;
  if (typed) {
    typedInput = el("input", { name: "typed", id: "confirm-typed", autocomplete: "off", spellcheck: "false", placeholder: typed, class: "typed" });
    fieldNodes.push(el("label", { class: "confirm-field" }, el("span", {}, `Type ${typed} to confirm`), typedInput));
  }
  replaceChildren(document.getElementById("confirm-fields"), fieldNodes);

  const values = () => {
    const out = {};
    for (const [name, { input, field }] of inputs) {
      if (field.type === "checks") out[name] = input.ticked();
      else out[name] = field.type === "number" ? (input.value === "" ? null : Number(input.value)) : input.value.trim();
    }
    return out;
  };
  const requestNode = document.getElementById("confirm-request");
  const redraw = () => {
    requestNode.textContent = request ? request(values()) : "";
    requestNode.hidden = !request;
  };
  redraw();
  for (const { input } of inputs.values()) input.addEventListener("input", redraw);

  const yesButton = document.getElementById("confirm-yes");
  yesButton.textContent = yes;
  yesButton.classList.toggle("danger", danger);
  box.classList.toggle("danger", danger);
  const error = document.getElementById("confirm-error");
  error.textContent = "";

  const validate = () => {
    for (const { input, field } of inputs.values()) {
      if (field.type === "checks") {
        if (field.required && input.ticked().length === 0) return `${field.label}: tick at least one`;
        continue;
      }
      const v = input.value.trim();
      if (field.required && v === "") return `${field.label}: required`;
      if (field.type === "number" && v !== "") {
        const n = Number(v);
        if (!Number.isFinite(n)) return `${field.label}: not a number`;
        if (field.min !== undefined && n < field.min) return `${field.label}: at least ${field.min}`;
        if (field.max !== undefined && n > field.max) return `${field.label}: at most ${field.max}`;
      }
    }
    if (typedInput && typedInput.value.trim().toUpperCase() !== typed.toUpperCase()) return `type ${typed} to confirm`;
    return "";
  };

  return new Promise((resolve) => {
    pending = { resolve, validate, values };
    document.body.classList.add("confirming");
    box.show();
    const first = fieldNodes.length ? box.querySelector("#confirm-fields input, #confirm-fields select") : document.getElementById("confirm-no");
    first.focus();
    if (first.select) first.select();
  });
}

/** Withdraw any confirmation on screen (the session ended): counts as "no". */
export function cancelConfirm() {
  if (pending) finish(null);
}

function finish(result) {
  const box = dialog();
  const current = pending;
  pending = null;
  box.close();
  document.body.classList.remove("confirming");
  if (current) current.resolve(result);
}

/** Wire the dialog's buttons once. */
export function installDialogs() {
  const form = document.getElementById("confirm-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!pending) return;
    const problem = pending.validate();
    if (problem) {
      document.getElementById("confirm-error").textContent = problem;
      return;
    }
    finish(pending.values());
  });
  document.getElementById("confirm-no").addEventListener("click", () => finish(null));
  // Escape cancels (the dialog is non-modal, so the browser does not do it for us).
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && pending) finish(null);
  });
}

/** A short-lived message at the bottom right; errors stay longer. */
export function toast(message, kind = "error") {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  const box = document.getElementById("toasts");
  box.prepend(node);
  while (box.children.length > 5) box.lastChild.remove();
  setTimeout(() => node.remove(), kind === "error" ? 10000 : 4000);
  node.addEventListener("click", () => node.remove());
}
