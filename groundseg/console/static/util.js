// Small shared helpers: DOM building (text only, never HTML from data), time and value
// formatting, quality codes.

export const SVG_NS = "http://www.w3.org/2000/svg";

/** Quality codes of the wire format (groundseg/quality.py): never renumber. */
export const Q = Object.freeze({ GOOD: 0, STALE: 1, INVALID: 2, SIMULATED: 3, REPLAYED: 4 });
export const QUALITY_NAME = ["good", "stale", "invalid", "simulated", "replayed"];

/** Good and simulated values may be trusted (as the server's interlocks do); the rest not. */
export function usable(quality) {
  return quality === Q.GOOD || quality === Q.SIMULATED;
}

/**
 * Build an element: el("div", {class: "x", dataset: {a: 1}, onclick: f}, child, "text").
 * Strings become text nodes, so server data can never inject markup.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  applyAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The same for SVG elements. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function applyAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
    } else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (key === "style") {
      // Through the CSSOM, which a Content-Security-Policy without 'unsafe-inline' allows.
      node.style.cssText = String(value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

/** "05:59:58" from seconds (>= 0); hours grow past 99 rather than wrap. */
export function hms(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * T-time as operators say it. Before T-0 the display rounds up, so "T-00:00:01" lasts
 * until the very instant of T-0, and T-0 itself reads "T-00:00:00".
 */
export function formatT(tSeconds) {
  if (tSeconds === null || tSeconds === undefined || !Number.isFinite(tSeconds)) return "T --:--:--";
  return tSeconds < 0 ? `T-${hms(Math.ceil(-tSeconds))}` : `T+${hms(tSeconds)}`;
}

/** L-clock: time left until the window closes; past the close it counts up as L+. */
export function formatL(lSeconds) {
  if (lSeconds === null || lSeconds === undefined || !Number.isFinite(lSeconds)) return "L --:--:--";
  return lSeconds >= 0 ? `L-${hms(Math.ceil(lSeconds))}` : `L+${hms(-lSeconds)}`;
}

/** Unix seconds as UTC "HH:MM:SS.s" (the event log's time column). */
export function utcTenths(unixSeconds) {
  if (!Number.isFinite(unixSeconds)) return "--:--:--.-";
  const d = new Date(unixSeconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${Math.floor(d.getUTCMilliseconds() / 100)}`;
}

// Decimals by unit: what the transmitter's resolution makes worth reading.
const DIGITS = { K: 1, bar: 2, "%": 1, rpm: 0, t: 1, "kg/s": 1, "Nm3/h": 0, V: 1, A: 1, degC: 1, deg: 1, "m/s": 1, km: 0, "%vol": 1, "%LEL": 1, hPa: 0, "%RH": 0, ms: 1, s: 0, count: 0 };

/** A channel's value for display: its state name for discrete channels, else a number. */
export function formatValue(channel, value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "---";
  if (channel && channel.states && Object.keys(channel.states).length) {
    const name = channel.states[String(Math.round(value))];
    if (name !== undefined) return name;
  }
  const unit = channel ? channel.unit : "";
  const digits = unit in DIGITS ? DIGITS[unit] : Math.abs(value) >= 100 ? 1 : 2;
  return value.toFixed(digits);
}

/** A display unit ("degC" reads better as "°C"). */
export function displayUnit(unit) {
  return { degC: "°C", deg: "°", "Nm3/h": "Nm³/h" }[unit] ?? unit ?? "";
}

/** T-time of a step as a label: "T-00:40:00", or "" for steps that follow the previous one. */
export function stepTime(atTs) {
  return atTs === null || atTs === undefined ? "" : formatT(atTs);
}

/** Upper-case label of a server enum value ("counting" -> "COUNTING"). */
export function label(value) {
  return value ? String(value).replaceAll("_", " ").toUpperCase() : "-";
}

/** Replace all children with the given ones. */
export function replaceChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** Set a node's text only when it changes: a repaint per update adds up over a long watch. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
