// The synoptic: a hand-laid schematic of the LOX, kerosene and gas systems and the
// umbilical, drawn as SVG from the pad description and updated live.
//
// Placement is hand-laid (that is what makes a schematic readable) but every element is
// bound to the pad by id: a valve, tank, pump or readout whose channels the pad does not
// have is simply left out, and any valve of the pad that the layout does not place is
// drawn in a row of its own at the bottom, so nothing on the pad is ever invisible.
//
// Two arrangements of the same blocks: on a wide panel the gas systems and the umbilical
// stand in a column right of the propellant lanes; on a squarer one (a laptop) they sit in
// a band below them. The panel's shape picks one, so the drawing is as large as it can be.
//
// Valve symbols: the bow-tie's fill is the ACTUAL state from the limit switches (open
// switch ON: OPEN, closed switch ON: CLOSED, neither: MOVING, stale or contradictory:
// UNKNOWN); the small flag on the stem is the COMMANDED state from the command channel.
// A flag that disagrees with a settled body is ringed in red.
//
// Live numbers are HTML, laid over the SVG on one "stage" that is scaled to fit the panel:
// re-laying out SVG text costs ten times what the same HTML costs, and the values change
// several times a second for hours. The SVG holds what does not change text: pipes,
// symbols and labels (valves, tanks and pumps change only attributes and paint).

import { Q, displayUnit, el, formatValue, svg, usable } from "./util.js";

const LANES_W = 1130; // the propellant lanes' width
const LANES_H = 612; // both lanes
const COLUMN_W = 250; // the gas and umbilical column (wide arrangement)
const BAND_H = 150; // the gas and umbilical band (tall arrangement)
const STRIP_H = 34; // the pad-environment strip along the bottom
const WIDE = { width: LANES_W + COLUMN_W, height: LANES_H + STRIP_H };
const TALL = { width: LANES_W, height: LANES_H + BAND_H + STRIP_H };
// The header of the tanks' pressurisation valves: GHe comes in from the supply valve.
const GHE_HEADER_X = 944;
const UPDATE_MS = 250;
const BASELINE = 12; // from the top of a readout's line box to its text baseline (CSS .readout)

export class Synoptic {
  /**
   * @param {import("./store.js").Store} store
   * @param {HTMLElement} container
   * @param {{onValveCommand: (commandId: string) => void}} hooks
   */
  constructor(store, container, { onValveCommand }) {
    this.store = store;
    this.container = container;
    this.onValveCommand = onValveCommand;
    this.readouts = new Map(); // channel id -> [{node, channel}]
    this.valveNodes = new Map(); // valve id -> {group, valve}
    this.valveOfChannel = new Map(); // channel id -> [valve id]
    this.tanks = new Map(); // prefix -> {group, fill, value, levels, y, h}
    this.pumps = new Map(); // prefix -> {group, running, fault, cmd}
    this.plates = new Map(); // plate id -> {group, mated, locked}
    this.watchers = new Map(); // channel id -> [fn] for composite elements (tanks, pumps, plates)
    this.panelValve = null;
    this.arrangement = null;
    this.size = WIDE;
    this.pending = new Set();
    this.flushTimer = null;
    store.on("values", ({ changed }) => this.schedule(changed));
    this.installValvePanel();
    // Rebuild when the panel changes shape enough to prefer the other arrangement.
    new ResizeObserver(() => {
      if (this.store.pad && this.chooseArrangement() !== this.arrangement) this.build();
      else this.fit();
    }).observe(container);
  }

  chooseArrangement() {
    const { width, height } = this.container.getBoundingClientRect();
    if (!width || !height) return this.arrangement ?? "wide";
    const fit = (size) => Math.min(width / size.width, height / size.height);
    return fit(TALL) > fit(WIDE) * 1.04 ? "tall" : "wide";
  }

  // -- building --------------------------------------------------------------------------

  build() {
    const store = this.store;
    this.readouts.clear();
    this.valveNodes.clear();
    this.valveOfChannel.clear();
    this.tanks.clear();
    this.pumps.clear();
    this.plates.clear();
    this.watchers.clear();
    this.pressPoints = [];
    for (const valve of store.valves.values()) {
      for (const ch of [valve.command, valve.open_switch, valve.closed_switch, valve.position]) {
        if (!ch) continue;
        if (!this.valveOfChannel.has(ch)) this.valveOfChannel.set(ch, []);
        this.valveOfChannel.get(ch).push(valve.id);
      }
    }
    this.arrangement = this.chooseArrangement();
    const size = { ...(this.arrangement === "wide" ? WIDE : TALL) };
    this.size = size;

    const root = svg("svg", {
      viewBox: `0 0 ${size.width} ${size.height}`,
      width: size.width,
      height: size.height,
      class: "synoptic-svg",
      role: "img",
      "aria-label": "Pad synoptic",
      preserveAspectRatio: "xMidYMid meet",
      dataset: { arrangement: this.arrangement },
    });
    root.append(this.defs());
    this.root = root;
    this.layer = { pipes: svg("g", { class: "pipes" }), marks: svg("g", { class: "marks" }) };
    root.append(this.layer.pipes, this.layer.marks);
    this.values = el("div", { class: "synoptic-values" });
    this.stage = el("div", { class: "synoptic-stage", dataset: { arrangement: this.arrangement } }, root, this.values);

    this.propellantLane({ prefix: "lox", title: "LOX", oy: 0, kind: "lox" });
    this.propellantLane({ prefix: "ker", title: "KEROSENE", oy: 322, kind: "ker" });
    let supply;
    if (this.arrangement === "wide") {
      const x = LANES_W + 12;
      const w = COLUMN_W - 20;
      let y = 6;
      ({ bottom: y, supply } = this.gheBlock(x, y, w, "left"));
      y = this.gn2Block(x, y + 14, w, 1);
      this.umbilicalBlock(x, y + 14, w, 1);
      this.padStrip(LANES_H + 20, size.width);
    } else {
      const y = LANES_H + 8;
      // GN2 gets the width its two columns of name, valve and flow need (S1 ENGINE BAY).
      this.umbilicalBlock(16, y, 432, 2);
      this.gn2Block(458, y, 414, 2);
      ({ supply } = this.gheBlock(886, y, 234, "right"));
      this.padStrip(LANES_H + BAND_H + 20, size.width);
    }
    this.gheHeader(supply);
    this.leftoverValves(size);

    this.container.replaceChildren(this.stage);
    this.fit();
    if (this.panelValve) this.closeValvePanel();
    this.update(new Set(store.values.keys()), true);
  }

  /** Scale the stage to the panel, centred: the drawing keeps its proportions. */
  fit() {
    if (!this.stage) return;
    const { width, height } = this.container.getBoundingClientRect();
    const style = getComputedStyle(this.container);
    const w = width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const h = height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const { width: sw, height: sh } = this.size;
    const scale = Math.max(0.1, Math.min(w / sw, h / sh));
    const dx = (w - sw * scale) / 2;
    const dy = (h - sh * scale) / 2;
    this.stage.style.width = `${sw}px`;
    this.stage.style.height = `${sh}px`;
    this.stage.style.transform = `translate(${dx}px, ${dy}px) scale(${scale})`;
  }

  defs() {
    // A diagonal hatch marks what cannot be trusted (stale or unknown).
    return svg(
      "defs",
      {},
      svg(
        "pattern",
        { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        svg("rect", { width: 6, height: 6, class: "hatch-bg" }),
        svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "hatch-line" }),
      ),
      svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 5, refY: 5, markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" })),
    );
  }

  has(id) {
    return this.store.channels.has(id);
  }

  text(x, y, content, cls = "lbl", anchor = "start") {
    const node = svg("text", { x, y, class: cls, "text-anchor": anchor }, content);
    this.layer.marks.append(node);
    return node;
  }

  pipe(points, cls = "") {
    const node = svg("polyline", { points: points.map((p) => p.join(",")).join(" "), class: `pipe ${cls}` });
    this.layer.pipes.append(node);
    return node;
  }

  /**
   * A labelled readout: "CAPTION v1 v2 unit". Channels the pad lacks are dropped; with
   * none left, nothing is drawn. Values of one unit share it; mixed units follow each value.
   */
  readout(x, y, caption, ids, { anchor = "start", unit } = {}) {
    const present = ids.filter((id) => this.has(id));
    if (!present.length) return null;
    const channels = present.map((id) => this.store.channels.get(id));
    const units = channels.map((c) => (c.states && Object.keys(c.states).length ? "" : displayUnit(c.unit)));
    const shared = units.every((u) => u === units[0]);
    // (x, y) is the text's baseline, as for SVG text; the HTML box is placed to match.
    const node = el("div", { class: `readout anchor-${anchor}`, style: `left:${x}px;top:${y - BASELINE}px` });
    if (caption) node.append(el("span", { class: "cap" }, caption));
    present.forEach((id, i) => {
      const span = el("span", { class: "val", dataset: { channel: id }, title: `${id}: ${channels[i].description}` }, "---");
      node.append(span);
      this.register(id, span);
      if (!shared && units[i] && unit === undefined) node.append(el("span", { class: "unit" }, units[i]));
    });
    const tail = unit ?? (shared ? units[0] : "");
    if (tail) node.append(el("span", { class: "unit" }, tail));
    this.values.append(node);
    return node;
  }

  register(id, node) {
    if (!this.readouts.has(id)) this.readouts.set(id, []);
    this.readouts.get(id).push({ node, channel: this.store.channels.get(id) });
  }

  watch(ids, fn) {
    for (const id of ids) {
      if (!id) continue;
      if (!this.watchers.has(id)) this.watchers.set(id, []);
      this.watchers.get(id).push(fn);
    }
  }

  /** A valve symbol at (x, y); `vertical` turns the flow path upright. */
  valve(id, x, y, caption, { vertical = false, small = false, labelAt = "below" } = {}) {
    const valve = this.store.valves.get(id);
    if (!valve) return null;
    const scale = small ? 0.8 : 1;
    const group = svg("g", {
      class: "valve",
      transform: `translate(${x},${y}) scale(${scale})`,
      dataset: { valve: id, actual: "UNKNOWN", commanded: "UNKNOWN" },
      tabindex: 0,
      role: "button",
      "aria-label": valve.description,
    });
    const body = svg("g", { transform: vertical ? "rotate(90)" : "" });
    body.append(
      svg("rect", { x: -16, y: -24, width: 32, height: 36, class: "hit" }),
      svg("path", { d: "M-12,-7 L12,7 L12,-7 L-12,7 Z", class: "body" }),
    );
    group.append(body);
    // The commanded-state flag sits on the stem, always upright so it reads the same way.
    group.append(
      svg("line", { x1: 0, y1: 0, x2: 0, y2: -13, class: "stem" }),
      svg("rect", { x: -6, y: -21, width: 12, height: 8, rx: 1.5, class: "cmd" }),
      svg("circle", { cx: 0, cy: -3, r: 18, class: "ring" }),
    );
    group.append(svg("title", {}, `${valve.description} (${id})`));
    group.addEventListener("click", (event) => this.openValvePanel(id, event));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.openValvePanel(id, event);
      }
    });
    this.layer.marks.append(group);
    if (caption) {
      const pos = {
        below: [x, y + 23 * scale, "middle"],
        right: [x + 15 * scale, y + 5, "start"],
        left: [x - 15 * scale, y + 5, "end"],
      }[labelAt];
      this.text(pos[0], pos[1], caption, "vlbl", pos[2]);
    }
    this.valveNodes.set(id, { group, valve });
    return group;
  }

  /** A tank with a level bar: data-tank=prefix, data-level=percent (transmitter A, else B). */
  tank(prefix, x, y, w, h, caption, kind) {
    const levels = [`${prefix}.level.a`, `${prefix}.level.b`, `${prefix}.level`].filter((id) => this.has(id));
    const group = svg("g", { class: `tank ${kind}`, dataset: { tank: prefix, level: "" } });
    const clipId = `clip-${prefix.replaceAll(".", "-")}`;
    group.append(
      svg("clipPath", { id: clipId }, svg("rect", { x, y, width: w, height: h, rx: 10 })),
      svg("rect", { x, y, width: w, height: h, rx: 10, class: "shell-bg" }),
    );
    const fill = svg("rect", { x, y: y + h, width: w, height: 0, class: "fill", "clip-path": `url(#${clipId})` });
    const stale = svg("rect", { x, y, width: w, height: h, rx: 10, class: "stale-cover" });
    // A dashed tick at 100 %: flight level.
    const full = svg("line", { x1: x + 3, x2: x + w - 3, y1: y + 1, y2: y + 1, class: "tick" });
    const shell = svg("rect", { x, y, width: w, height: h, rx: 10, class: "shell" });
    group.append(fill, stale, full, shell);
    const value = el("div", { class: "level anchor-middle", dataset: { levelOf: prefix }, style: `left:${x + w / 2}px;top:${y + h / 2 - 9}px` }, "---");
    this.values.append(value);
    group.append(svg("title", {}, `${caption}: ${levels.join(", ") || "no level channel"}`));
    this.layer.marks.append(group);
    this.text(x + w / 2, y - 7, caption, "tname", "middle");
    const entry = { group, fill, value, levels, y, h };
    this.tanks.set(prefix, entry);
    this.watch(levels, () => this.drawTank(entry));
    return entry;
  }

  pump(prefix, x, y, caption) {
    const running = `${prefix}.running`;
    if (!this.has(running) && !this.has(`${prefix}.cmd`)) return null;
    const group = svg("g", { class: "pump", transform: `translate(${x},${y})`, dataset: { pump: prefix, running: "UNKNOWN" } });
    group.append(svg("circle", { r: 16, class: "body" }), svg("path", { d: "M-7,-9 L10,0 L-7,9 Z", class: "impeller" }), svg("title", {}, `${caption} (${prefix})`));
    this.layer.marks.append(group);
    const entry = { group, running, fault: `${prefix}.fault`, cmd: `${prefix}.cmd` };
    this.pumps.set(prefix, entry);
    this.watch([entry.running, entry.fault, entry.cmd], () => this.drawPump(entry));
    this.text(x, y + 31, caption, "vlbl", "middle");
    this.readout(x, y + 47, "", [`${prefix}.speed`], { anchor: "middle" });
    return entry;
  }

  // -- the propellant lanes --------------------------------------------------------------

  /**
   * One propellant system, left to right: storage, outlet valve, pump, fill manifold,
   * transfer line with its temperature points, recirculation, bleed and drain, the stage
   * fill valves, the stage tanks with their pressurisation and vent valves and readouts.
   */
  propellantLane({ prefix: p, title, oy, kind }) {
    const valves = this.store.valves;
    const pc = `pipe-${kind}`;
    const lox = kind === "lox";
    this.text(12, oy + 20, title, `lane-title ${kind}`);

    // Storage tank and its outlet.
    const storageH = lox ? 178 : 150;
    const sTop = oy + 52;
    const outY = sTop + storageH - 14;
    const L = lox ? oy + 180 : oy + 160; // the transfer line
    this.tank(`${p}.storage`, 22, sTop, 76, storageH, "STORAGE", kind);
    let ry = sTop + storageH + 18;
    for (const [cap, ids] of [["M", [`${p}.storage.mass`]], ["P", [`${p}.storage.pressure`]], ["T", [`${p}.storage.temp`]]]) {
      if (this.readout(14, ry, cap, ids)) ry += 16;
    }

    // Outlet valve, pump, and the fill manifold: valves in parallel between two headers.
    const [mL, mV, mR] = [232, 274, 316];
    this.pipe([[98, outY], [mL, outY]], pc);
    this.valve(`${p}.storage.outlet_valve`, 130, outY, "OUTLET");
    this.pump(`${p}.pump`, 188, outY, "PUMP");
    const manifold = lox
      ? [[`${p}.chilldown_valve`, "CHILLDOWN", oy + 84], [`${p}.slow_fill_valve`, "SLOW FILL", oy + 132], [`${p}.fast_fill_valve`, "FAST FILL", outY]]
      : [[`${p}.fill_valve`, "FILL", oy + 100], [`${p}.topping_valve`, "TOPPING", outY]];
    const placed = manifold.filter(([id]) => valves.has(id));
    const ys = placed.map(([, , y]) => y);
    let bottom = Math.max(outY, L, ...ys);
    // LOX replenish is pressure fed: it bypasses the pump.
    const replenish = `${p}.replenish_valve`;
    if (valves.has(replenish)) {
      const by = outY + 48;
      this.pipe([[156, outY], [156, by], [mR, by]], pc);
      this.valve(replenish, mV, by, "REPLENISH");
      bottom = by;
    }
    const top = Math.min(L, ...ys);
    this.pipe([[mL, top], [mL, outY]], pc);
    this.pipe([[mR, top], [mR, bottom]], pc);
    for (const [id, caption, y] of placed) {
      this.pipe([[mL, y], [mR, y]], pc);
      this.valve(id, mV, y, caption);
    }

    // The transfer line, with its skin temperatures numbered from the pump end.
    const [recircX, bleedX, drainX, splitX] = [650, 680, 708, 736];
    this.pipe([[mR, L], [splitX, L]], `${pc} line`);
    const temps = [];
    for (let i = 1; this.has(`${p}.line.temp.${i}`); i++) temps.push(`${p}.line.temp.${i}`);
    temps.forEach((id, i) => {
      const x = 360 + i * 52;
      this.layer.marks.append(svg("circle", { cx: x, cy: L, r: 3.5, class: "tpoint" }));
      this.text(x, L - 27, `T${i + 1}`, "cap", "middle");
      this.readout(x, L - 10, "", [id], { anchor: "middle", unit: "" });
    });
    if (temps.length) this.text(340, L - 46, "LINE SKIN TEMPERATURES, K (T1 AT THE PUMP)", "tiny");
    this.readout(344, L + 24, "FLOW", [`${p}.line.flow`]);
    this.readout(494, L + 24, "P", [`${p}.line.pressure`]);

    // Recirculation back to storage, over the top of the lane.
    const recirc = `${p}.line.recirc_valve`;
    if (valves.has(recirc)) {
      const y = oy + 34;
      this.pipe([[recircX, L], [recircX, y], [60, y], [60, sTop]], pc);
      this.valve(recirc, 440, y, "RECIRC");
    }
    // Bleed to the vent stack, drain to the pit.
    if (valves.has(`${p}.line.bleed_valve`)) {
      this.pipe([[bleedX, L], [bleedX, L - 78]], `${pc} vent`);
      this.layer.marks.append(svg("line", { x1: bleedX, y1: L - 70, x2: bleedX, y2: L - 80, class: "pipe vent", "marker-end": "url(#arrow)" }));
      this.valve(`${p}.line.bleed_valve`, bleedX, L - 44, "BLEED", { vertical: true, labelAt: "right" });
    }
    if (valves.has(`${p}.drain_valve`)) {
      this.pipe([[drainX, L], [drainX, L + 84]], `${pc} vent`);
      this.valve(`${p}.drain_valve`, drainX, L + 48, "DRAIN", { vertical: true, labelAt: "left" });
    }

    // The stage tanks: stage 2 above stage 1, as on the vehicle.
    const stages = lox ? [["s2", oy + 52, 84], ["s1", oy + 166, 140]] : [["s2", oy + 52, 72], ["s1", oy + 154, 130]];
    const fillYs = stages.map(([, t, h]) => t + h / 2);
    this.pipe([[splitX, Math.min(...fillYs)], [splitX, Math.max(...fillYs)]], pc);
    const tankX = 806;
    const short = lox ? "LOX" : "KER";
    for (const [stage, t, h] of stages) {
      const tp = `${p}.${stage}`;
      const fy = t + h / 2;
      this.pipe([[splitX, fy], [tankX, fy]], pc);
      this.valve(`${tp}.fill_valve`, 771, fy, `${stage.toUpperCase()} FILL`);
      this.tank(tp, tankX, t, 70, h, `${stage.toUpperCase()} ${short}`, kind);
      // Pressurisation from the GHe header; vent to atmosphere.
      const py = t + 16;
      const vy = t + 50;
      if (valves.has(`${tp}.press_valve`)) {
        this.pipe([[tankX + 70, py], [GHE_HEADER_X, py]], "pipe-ghe");
        this.valve(`${tp}.press_valve`, 900, py, "", { small: true });
        this.text(914, py - 5, "PRESS", "tiny");
        this.pressPoints.push(py);
      }
      if (valves.has(`${tp}.vent_valve`)) {
        this.pipe([[tankX + 70, vy], [924, vy]], `${pc} vent`);
        this.layer.marks.append(svg("line", { x1: 918, y1: vy, x2: 930, y2: vy, class: "pipe vent", "marker-end": "url(#arrow)" }));
        this.valve(`${tp}.vent_valve`, 900, vy, "", { small: true });
        this.text(914, vy + 14, "VENT", "tiny");
      }
      // Readouts right of the GHe header.
      let y = t + 10;
      for (const [cap, ids] of [
        ["LVL", [`${tp}.level.a`, `${tp}.level.b`]],
        ["ULL", [`${tp}.ullage_pressure.a`, `${tp}.ullage_pressure.b`, `${tp}.ullage_pressure.c`]],
        ["MASS", [`${tp}.mass`]],
        ["T", [`${tp}.temp.top`, `${tp}.temp.bottom`]],
      ]) {
        if (y > t + h + 6) break;
        if (this.readout(958, y, cap, ids)) y += 17;
      }
    }
  }

  // -- gas systems and umbilical ---------------------------------------------------------

  /**
   * GHe banks, regulator and the supply valve; returns its bottom and the supply valve's
   * outlet, on the side (`outlet`) the pressurisation header lies.
   */
  gheBlock(x, y, w, outlet) {
    this.text(x, y + 16, "GHe", "lane-title gas");
    y += 36;
    const banks = [];
    for (let i = 1; this.has(`ghe.bank.${i}.pressure`); i++) banks.push(`ghe.bank.${i}.pressure`);
    // Two banks a row: four banks in two lines.
    banks.forEach((id, i) => this.readout(x + (i % 2) * (w / 2), y + Math.floor(i / 2) * 17, `B${i + 1}`, [id]));
    y += Math.ceil(banks.length / 2) * 17;
    if (this.readout(x, y, "REG", ["ghe.regulator.outlet_pressure.a", "ghe.regulator.outlet_pressure.b"])) y += 17;
    let supply = null;
    if (this.store.valves.has("ghe.supply_valve")) {
      y += 12;
      const vx = outlet === "left" ? x + 22 : x + w - 60;
      this.valve("ghe.supply_valve", vx, y, "SUPPLY", { labelAt: outlet === "left" ? "right" : "left" });
      supply = { x: outlet === "left" ? vx - 12 : vx + 12, y, outlet };
      y += 14;
    }
    return { bottom: y, supply };
  }

  /** The pressurisation header: from the supply valve to every tank's pressurisation valve. */
  gheHeader(supply) {
    const points = this.pressPoints;
    if (!points.length) return;
    const top = Math.min(...points);
    const bottom = Math.max(...points);
    if (!supply) {
      this.pipe([[GHE_HEADER_X, top], [GHE_HEADER_X, bottom]], "pipe-ghe");
    } else if (supply.outlet === "left") {
      // From the column on the right: over the top of the tanks' readouts, then down.
      const over = 36;
      this.pipe([[supply.x, supply.y], [LANES_W + 2, supply.y], [LANES_W + 2, over], [GHE_HEADER_X, over], [GHE_HEADER_X, bottom]], "pipe-ghe");
    } else {
      // From the band below: straight up into the header.
      this.pipe([[supply.x, supply.y], [GHE_HEADER_X, supply.y], [GHE_HEADER_X, top]], "pipe-ghe");
    }
  }

  /** GN2 supply and the purge valves with their flows, in `columns`; returns the bottom. */
  gn2Block(x, y, w, columns) {
    this.text(x, y + 16, "GN2 PURGE", "lane-title gas");
    y += 36;
    if (this.readout(x, y, "SUPPLY", ["gn2.supply.pressure.a", "gn2.supply.pressure.b"])) y += 26;
    const purges = [...this.store.valves.keys()].filter((id) => id.startsWith("gn2.purge."));
    const perColumn = Math.ceil(purges.length / columns);
    const colW = (w - 16 * (columns - 1)) / columns;
    purges.forEach((id, i) => {
      const cx = x + Math.floor(i / perColumn) * (colW + 16);
      const cy = y + (i % perColumn) * 25;
      const area = id.slice("gn2.purge.".length).replace(/\.valve$/, "");
      const name = area.replace("instrument", "instr").replaceAll("_", " ").replace(/^s(\d)/, "S$1").toUpperCase();
      this.valve(id, cx + 10, cy - 5, "", { small: true });
      this.text(cx + 25, cy, name, "vlbl");
      this.readout(cx + colW, cy, "", [`gn2.purge.${area}.flow`], { anchor: "end" });
    });
    return y + perColumn * 25;
  }

  /** Vehicle power, cable mast, ignition, and the umbilical plates; in `columns` columns. */
  umbilicalBlock(x, y, w, columns) {
    this.text(x, y + 16, "UMBILICAL", "lane-title umb");
    y += 36;
    const rows = [
      ["POWER", ["umb.power.source"]],
      ["BUS", ["umb.bus.voltage", "umb.bus.current"]],
      ["BATT", ["umb.battery.voltage", "umb.battery.soc"]],
      ["MAST", ["umb.mast.latched"]],
      ["RETRACT", ["umb.mast.retracted"]],
      ["ANGLE", ["umb.mast.position"]],
      ["IGNITION", ["umb.vehicle.ignition.armed"]],
      ["OBC", ["umb.vehicle.obc_ready"]],
    ];
    // Two columns (the band): readouts at x and x+180, plates from x+300.
    const perColumn = Math.ceil(rows.length / columns);
    let drawn = 0;
    let maxY = y;
    for (const [cap, ids] of rows) {
      const cx = x + Math.floor(drawn / perColumn) * 180;
      const cy = y + (drawn % perColumn) * 17;
      if (this.readout(cx, cy, cap, ids)) {
        drawn += 1;
        maxY = Math.max(maxY, cy);
      }
    }
    // Plates: a square each, green when mated and locked, amber when only mated.
    const plates = [...this.store.channels.keys()].filter((id) => id.startsWith("umb.plate.") && id.endsWith(".mated")).map((id) => id.slice(0, -".mated".length));
    const px0 = columns > 1 ? x + 300 : x;
    const py0 = columns > 1 ? y - 2 : maxY + 16;
    if (columns > 1) this.text(px0, y - 20, "PLATES", "cap");
    const perRow = 2;
    const plateW = columns > 1 ? Math.min(84, (w - 300) / 2) : 84;
    plates.forEach((plate, i) => {
      const px = px0 + (i % perRow) * plateW;
      const py = py0 + Math.floor(i / perRow) * 20;
      const name = plate.slice("umb.plate.".length).replace("_elec", " EL").replace("_", " ").toUpperCase();
      const group = svg("g", { class: "plate", dataset: { plate, state: "UNKNOWN" } });
      group.append(svg("rect", { x: px, y: py - 11, width: 13, height: 13, rx: 2, class: "mark" }), svg("title", {}, plate));
      group.append(svg("text", { x: px + 19, y: py, class: "vlbl" }, name));
      this.layer.marks.append(group);
      const entry = { group, mated: `${plate}.mated`, locked: `${plate}.locked` };
      this.plates.set(plate, entry);
      this.watch([entry.mated, entry.locked], () => this.drawPlate(entry));
    });
  }

  /** Pad environment along the bottom: access, e-stop, wind, lightning, gas detectors. */
  padStrip(y, width) {
    this.layer.pipes.append(svg("line", { x1: 8, x2: width - 8, y1: y - 19, y2: y - 19, class: "divider" }));
    let x = 12;
    for (const [cap, ids, w] of [
      ["PAD", ["pad.area_clear"], 118],
      ["E-STOP", ["pad.estop"], 150],
      ["WIND", ["wx.wind.m10.mean", "wx.wind.m10.gust"], 170],
      ["LIGHTNING", ["wx.lightning.distance"], 150],
      ["O2", ["wx.gas.p1.o2", "wx.gas.p2.o2"], 170],
      ["VAPOUR", ["wx.gas.p3.vapour", "wx.gas.p4.vapour"], 180],
      ["AIR", ["wx.atm.temperature"], 110],
    ]) {
      if (x + w > width) break;
      if (this.readout(x, y, cap, ids)) x += w;
    }
  }

  /** Any valve of the pad the layout did not place, in a row so it is never hidden. */
  leftoverValves(size) {
    const missing = [...this.store.valves.keys()].filter((id) => !this.valveNodes.has(id));
    if (!missing.length) return;
    // Grow the drawing by one row for them.
    const y = size.height + 20;
    size.height += 34;
    this.root.setAttribute("viewBox", `0 0 ${size.width} ${size.height}`);
    this.root.setAttribute("height", size.height);
    this.text(12, y + 4, "OTHER", "cap");
    missing.forEach((id, i) => this.valve(id, 80 + i * 150, y, id, { small: true, labelAt: "right" }));
  }

  // -- updating --------------------------------------------------------------------------

  /**
   * Collect changes and draw them at most every UPDATE_MS: the stream comes at 10 Hz, and
   * each redraw of SVG text costs a layout of the drawing. Four times a second is as fast
   * as anyone reads a number, and a valve's travel still shows as it happens.
   */
  schedule(changed) {
    for (const id of changed) this.pending.add(id);
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      const ids = this.pending;
      this.pending = new Set();
      this.update(ids);
    }, UPDATE_MS);
  }

  update(changed, all = false) {
    if (!this.root) return;
    const valves = new Set();
    const composite = new Set();
    const ids = all ? new Set([...this.readouts.keys(), ...this.valveOfChannel.keys(), ...this.watchers.keys()]) : changed;
    for (const id of ids) {
      for (const r of this.readouts.get(id) ?? []) this.drawReadout(id, r);
      for (const v of this.valveOfChannel.get(id) ?? []) valves.add(v);
      for (const fn of this.watchers.get(id) ?? []) composite.add(fn);
    }
    for (const id of valves) this.drawValve(id);
    for (const fn of composite) fn();
    if (this.panelValve && valves.has(this.panelValve)) this.drawValvePanel();
  }

  drawReadout(id, entry) {
    const { node, channel } = entry;
    const q = this.store.quality(id);
    const v = this.store.value(id);
    const invalid = q === Q.INVALID;
    const text = invalid ? "INV" : formatValue(channel, v);
    const limits = channel.limits || {};
    const out = Number.isFinite(v) && !invalid && ((limits.low !== null && limits.low !== undefined && v < limits.low) || (limits.high !== null && limits.high !== undefined && v > limits.high));
    // Touch the DOM only for a visible change: most updates repeat what is shown.
    const look = `${q}${out ? "L" : ""}`;
    if (entry.text !== text) {
      node.firstChild.nodeValue = text;
      entry.text = text;
    }
    if (entry.look !== look) {
      node.classList.toggle("q-stale", q === Q.STALE);
      node.classList.toggle("q-invalid", invalid);
      node.classList.toggle("q-sim", q === Q.SIMULATED);
      node.classList.toggle("q-replay", q === Q.REPLAYED);
      node.classList.toggle("limit", Boolean(out));
      entry.look = look;
    }
  }

  /** A boolean channel's reading, or null when it cannot be trusted. */
  bit(id) {
    if (!id || !this.has(id)) return null;
    if (!usable(this.store.quality(id)) && this.store.quality(id) !== Q.REPLAYED) return null;
    const v = this.store.value(id);
    return Number.isFinite(v) ? v >= 0.5 : null;
  }

  valveState(valve) {
    const open = this.bit(valve.open_switch);
    const closed = this.bit(valve.closed_switch);
    let actual = "UNKNOWN";
    if (open === null || closed === null) actual = "UNKNOWN";
    else if (open && closed) actual = "UNKNOWN"; // both switches made: a switch fault, not a position
    else if (open) actual = "OPEN";
    else if (closed) actual = "CLOSED";
    else actual = "MOVING";
    const cmd = this.bit(valve.command);
    const commanded = cmd === null ? "UNKNOWN" : cmd ? "OPEN" : "CLOSE";
    const discrepant = (commanded === "OPEN" && actual === "CLOSED") || (commanded === "CLOSE" && actual === "OPEN");
    return { actual, commanded, discrepant, contradictory: open && closed };
  }

  drawValve(id) {
    const entry = this.valveNodes.get(id);
    if (!entry) return;
    const { actual, commanded, discrepant, contradictory } = this.valveState(entry.valve);
    const g = entry.group;
    const key = `${actual} ${commanded} ${discrepant} ${contradictory}`;
    if (entry.key === key) return;
    entry.key = key;
    g.dataset.actual = actual;
    g.dataset.commanded = commanded;
    g.dataset.discrepant = String(discrepant);
    g.querySelector("title").textContent =
      `${entry.valve.description} (${id})\nactual ${actual}${contradictory ? " (both limit switches on)" : ""}, commanded ${commanded}${discrepant ? "\nDISAGREES with its command" : ""}`;
  }

  drawTank({ group, fill, value, levels, y, h }) {
    const id = levels.find((l) => this.store.values.has(l) && usable(this.store.quality(l))) ?? levels[0];
    const q = id ? this.store.quality(id) : Q.STALE;
    const v = id ? this.store.value(id) : null;
    const known = Number.isFinite(v);
    const level = known ? Math.max(0, Math.min(100, v)) : 0;
    const text = q === Q.INVALID ? "INV" : known ? `${v.toFixed(1)}%` : "---";
    const quality = ["good", "stale", "invalid", "simulated", "replayed"][q] ?? "unknown";
    if (value.textContent === text && group.dataset.quality === quality) return;
    fill.setAttribute("y", String(y + h - (h * level) / 100));
    fill.setAttribute("height", String((h * level) / 100));
    // Keep the last known number in data-level; the quality says whether to trust it.
    if (known) group.dataset.level = v.toFixed(1);
    group.dataset.quality = quality;
    value.dataset.quality = quality;
    value.textContent = text;
  }

  drawPump({ group, running, fault, cmd }) {
    const isRunning = this.bit(running);
    const isFault = this.bit(fault);
    const commanded = this.bit(cmd);
    let state = isRunning === null ? "UNKNOWN" : isRunning ? "RUNNING" : "STOPPED";
    if (isFault) state = "FAULT";
    group.dataset.running = state;
    group.dataset.commanded = commanded === null ? "UNKNOWN" : commanded ? "RUN" : "STOP";
    group.dataset.discrepant = String(commanded !== null && isRunning !== null && commanded !== isRunning);
    group.querySelector("title").textContent = `${group.dataset.pump}: ${state}, commanded ${group.dataset.commanded}`;
  }

  drawPlate({ group, mated, locked }) {
    const m = this.bit(mated);
    const l = this.bit(locked);
    group.dataset.state = m === null ? "UNKNOWN" : m && l ? "LOCKED" : m ? "MATED" : "DEMATED";
    group.querySelector("title").textContent = `${group.dataset.plate}: ${group.dataset.state}`;
  }

  // -- valve panel -----------------------------------------------------------------------

  installValvePanel() {
    const panel = document.getElementById("valve-panel");
    this.panel = panel;
    panel.querySelector(".vp-close").addEventListener("click", () => this.closeValvePanel());
    panel.querySelector(".vp-open").addEventListener("click", () => this.prefill("open"));
    panel.querySelector(".vp-close-cmd").addEventListener("click", () => this.prefill("close"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.closeValvePanel();
    });
    document.addEventListener("click", (event) => {
      if (this.panelValve && !panel.contains(event.target) && !event.target.closest?.("[data-valve]")) this.closeValvePanel();
    });
  }

  openValvePanel(id, event) {
    this.panelValve = id;
    const panel = this.panel;
    const valve = this.store.valves.get(id);
    panel.dataset.valve = id;
    panel.querySelector(".vp-name").textContent = valve.description || id;
    panel.querySelector(".vp-id").textContent = id;
    panel.hidden = false;
    // Next to the valve, kept inside the window.
    const rect = (event.currentTarget || event.target).getBoundingClientRect();
    const pw = panel.offsetWidth;
    const ph = panel.offsetHeight;
    const left = Math.min(window.innerWidth - pw - 8, Math.max(8, rect.right + 8));
    const top = Math.min(window.innerHeight - ph - 8, Math.max(8, rect.top - 10));
    panel.style.left = `${left}px`;
    panel.style.top = `${top}px`;
    this.drawValvePanel();
  }

  drawValvePanel() {
    const id = this.panelValve;
    const valve = this.store.valves.get(id);
    if (!valve) return;
    const panel = this.panel;
    const { actual, commanded, discrepant } = this.valveState(valve);
    const actualNode = panel.querySelector(".vp-actual");
    actualNode.textContent = actual;
    actualNode.dataset.state = actual;
    const cmdNode = panel.querySelector(".vp-commanded");
    cmdNode.textContent = commanded + (discrepant ? "  (disagrees)" : "");
    cmdNode.dataset.state = commanded;
    const pos = valve.position;
    const posChannel = pos && this.store.channels.get(pos);
    panel.querySelector(".vp-position").textContent = posChannel ? `${formatValue(posChannel, this.store.value(pos))} ${displayUnit(posChannel.unit)}` : "n/a";
    for (const [cls, cmdId] of [[".vp-open", valve.open_command], [".vp-close-cmd", valve.close_command]]) {
      const button = panel.querySelector(cls);
      const command = this.store.commands.get(cmdId);
      button.disabled = !command;
      button.title = command ? `${cmdId}: ${command.description || ""}` : `the pad has no command ${cmdId}`;
    }
  }

  closeValvePanel() {
    this.panelValve = null;
    this.panel.hidden = true;
  }

  prefill(which) {
    const valve = this.store.valves.get(this.panelValve);
    if (!valve) return;
    const commandId = which === "open" ? valve.open_command : valve.close_command;
    this.closeValvePanel();
    this.onValveCommand(commandId);
  }
}
