// Plots of chosen channels: the last 15 minutes from GET /api/history, then the stream's
// values appended live, drawn by uPlot (vendor/uPlot.iife.min.js, window.uPlot).
//
// Live points are stamped with the stream message's `time`, not the sample's own time:
// the server's display history is stamped on the same (wall) clock as its messages, while
// sample times come from the device clocks (a simulated clock runs fast in a demo). One
// time base keeps history and live points on one axis.

import { toast } from "./dialogs.js";
import { Q, displayUnit, el, formatValue, usable } from "./util.js";

const SPAN_S = 900;
const REDRAW_MS = 500;
const STORAGE_KEY = "groundseg.plots";

// The first plots an operator sees: the stage-1 LOX level, and the transfer line's
// temperature at the pad end (the point the chilldown waits on), whichever ids exist.
const DEFAULTS = [
  ["lox.s1.level.a", "lox.s1.level.b", "lox.s1.level"],
  ["lox.line.temp.6", "lox.line.temp.5", "lox.line.temp.4", "lox.line.temp.3", "lox.line.temp.2", "lox.line.temp.1", "lox.line.temp"],
];

const COLORS = ["#5fb3e4", "#e0b354", "#7bc77e", "#c792ea", "#f07178", "#89ddff"];

export class Plots {
  constructor(store, api) {
    this.store = store;
    this.api = api;
    this.box = document.getElementById("plots");
    this.input = document.getElementById("plot-channel");
    this.plots = new Map(); // channel id -> plot
    this.colorIndex = 0;
    document.getElementById("plot-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = this.input.value.trim();
      if (!id) return;
      if (!store.channels.has(id)) {
        toast(`no channel ${id} on this pad`);
        return;
      }
      this.add(id);
      this.input.value = "";
    });
    store.on("pad", () => this.fillChannelList());
    store.on("values", (detail) => this.onValues(detail));
    this.timer = setInterval(() => this.redraw(), REDRAW_MS);
    this.installZoomReset();
  }

  fillChannelList() {
    const list = document.getElementById("channel-list");
    list.replaceChildren(...[...this.store.channels.values()].map((c) => el("option", { value: c.id }, `${c.description}${c.unit ? ` [${c.unit}]` : ""}`)));
  }

  /** The plots to open after login: the user's last choice, else the defaults. */
  restore() {
    for (const plot of this.plots.values()) this.remove(plot.id, false);
    let chosen = null;
    try {
      chosen = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    } catch {
      chosen = null;
    }
    if (!Array.isArray(chosen) || !chosen.length) {
      chosen = DEFAULTS.map((candidates) => candidates.find((id) => this.store.channels.has(id))).filter(Boolean);
    }
    for (const id of chosen) if (this.store.channels.has(id)) this.add(id);
  }

  remember() {
    localStorage.setItem(STORAGE_KEY, JSON.stringify([...this.plots.keys()]));
  }

  async add(id) {
    if (this.plots.has(id)) {
      this.plots.get(id).card.scrollIntoView({ block: "nearest" });
      return;
    }
    if (!window.uPlot) {
      toast("the plotting library did not load");
      return;
    }
    const channel = this.store.channels.get(id);
    const color = COLORS[this.colorIndex++ % COLORS.length];
    const valueNode = el("span", { class: "plot-value" }, "---");
    const cursorNode = el("span", { class: "plot-cursor" }, "");
    const removeButton = el("button", { type: "button", class: "btn small remove", title: "Remove this plot", "aria-label": `Remove plot of ${id}` }, "x");
    const chart = el("div", { class: "plot-chart" });
    const card = el(
      "div",
      { class: "plot", dataset: { plot: id } },
      el(
        "div",
        { class: "plot-head" },
        el("span", { class: "plot-swatch", style: `background:${color}` }),
        el("span", { class: "plot-id", title: channel.description }, id),
        el("span", { class: "plot-desc" }, channel.description),
        cursorNode,
        valueNode,
        removeButton,
      ),
      chart,
    );
    this.box.append(card);
    const plot = { id, channel, card, chart, valueNode, cursorNode, t: [], v: [], dirty: true, zoomed: false, uplot: null, color };
    this.plots.set(id, plot);
    removeButton.addEventListener("click", () => this.remove(id));
    this.remember();

    plot.uplot = this.makeChart(plot);
    plot.resize = new ResizeObserver(() => this.fit(plot));
    plot.resize.observe(chart);

    try {
      const history = await this.api.get(`/api/history?channel=${encodeURIComponent(id)}&seconds=${SPAN_S}`);
      if (!this.plots.has(id)) return;
      // Live points that arrived while the history was on its way are newer: keep them.
      const liveT = plot.t;
      const liveV = plot.v;
      plot.t = [...history.t];
      plot.v = history.v.map((x) => (x === null || x === undefined ? null : x));
      const last = plot.t.length ? plot.t[plot.t.length - 1] : -Infinity;
      liveT.forEach((t, i) => {
        if (t > last) {
          plot.t.push(t);
          plot.v.push(liveV[i]);
        }
      });
      plot.dirty = true;
      this.redraw();
    } catch (err) {
      if (err.status !== 401) toast(`history of ${id}: ${err.detail}`);
    }
  }

  remove(id, remember = true) {
    const plot = this.plots.get(id);
    if (!plot) return;
    plot.resize.disconnect();
    plot.uplot.destroy();
    plot.card.remove();
    this.plots.delete(id);
    if (remember) this.remember();
  }

  makeChart(plot) {
    const uPlot = window.uPlot;
    const axis = {
      stroke: "#8a97a6",
      font: "11px ui-monospace, 'DejaVu Sans Mono', monospace",
      grid: { stroke: "rgba(160,180,200,0.08)", width: 1 },
      ticks: { stroke: "rgba(160,180,200,0.18)", width: 1, size: 4 },
    };
    const discrete = plot.channel.states && Object.keys(plot.channel.states).length > 0;
    const limits = plot.channel.limits || {};
    const { width, height } = this.size(plot);
    return new uPlot(
      {
        width,
        height,
        // Operators on the pad and in the control room talk in UTC.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
        legend: { show: false },
        padding: [8, 10, 0, 0],
        cursor: { drag: { x: true, y: false }, points: { size: 6 } },
        scales: { x: { time: true } },
        axes: [
          // 24-hour UTC times; seconds only when the ticks are closer than a minute.
          { ...axis, space: 70, values: (u, splits, axisIdx, space, incr) => splits.map((t) => utcTick(t, incr)) },
          {
            ...axis,
            size: 58,
            label: displayUnit(plot.channel.unit) || undefined,
            labelSize: 14,
            labelFont: "11px system-ui, sans-serif",
            values: discrete ? (u, splits) => splits.map((s) => plot.channel.states[String(Math.round(s))] ?? "") : undefined,
          },
        ],
        series: [
          {},
          {
            label: plot.id,
            stroke: plot.color,
            width: 1.5,
            spanGaps: false,
            points: { show: false },
            paths: discrete ? uPlot.paths.stepped({ align: 1 }) : undefined,
          },
        ],
        hooks: {
          // Operating limits as dashed lines, so "is it in the green" needs no reading.
          draw: [
            (u) => {
              const ctx = u.ctx;
              ctx.save();
              ctx.setLineDash([5, 4]);
              ctx.lineWidth = 1;
              ctx.strokeStyle = "rgba(240,113,120,0.7)";
              for (const limit of [limits.low, limits.high]) {
                if (limit === null || limit === undefined) continue;
                const y = u.valToPos(limit, "y", true);
                if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
                ctx.beginPath();
                ctx.moveTo(u.bbox.left, y);
                ctx.lineTo(u.bbox.left + u.bbox.width, y);
                ctx.stroke();
              }
              ctx.restore();
            },
          ],
          setSelect: [
            (u) => {
              if (u.select.width > 0) plot.zoomed = true;
            },
          ],
          setCursor: [
            (u) => {
              const i = u.cursor.idx;
              plot.cursorNode.textContent =
                i === null || i === undefined || plot.t[i] === undefined ? "" : `${new Date(plot.t[i] * 1000).toISOString().slice(11, 19)}Z ${formatValue(plot.channel, plot.v[i])}`;
            },
          ],
        },
      },
      [[], []],
      plot.chart,
    );
  }

  size(plot) {
    const rect = plot.chart.getBoundingClientRect();
    return { width: Math.max(120, Math.floor(rect.width)), height: Math.max(60, Math.floor(rect.height)) };
  }

  fit(plot) {
    const { width, height } = this.size(plot);
    if (plot.uplot && (plot.uplot.width !== width || plot.uplot.height !== height)) plot.uplot.setSize({ width, height });
  }

  onValues({ changed, time }) {
    if (!Number.isFinite(time)) return;
    for (const [id, plot] of this.plots) {
      if (!changed.has(id)) continue;
      const entry = this.store.values.get(id);
      if (!entry) continue;
      const q = this.store.quality(id);
      // Untrusted values leave a gap, as the server's history does.
      const v = usable(q) || q === Q.REPLAYED ? entry.v : null;
      const last = plot.t.length ? plot.t[plot.t.length - 1] : -Infinity;
      if (time <= last) continue;
      plot.t.push(time);
      plot.v.push(v);
      plot.dirty = true;
      plot.valueNode.textContent = q === Q.INVALID ? "INV" : `${formatValue(plot.channel, entry.v)} ${displayUnit(plot.channel.unit)}`;
      plot.valueNode.classList.toggle("q-stale", q === Q.STALE);
      plot.valueNode.classList.toggle("q-invalid", q === Q.INVALID);
    }
  }

  redraw() {
    for (const plot of this.plots.values()) {
      if (!plot.dirty || !plot.uplot) continue;
      plot.dirty = false;
      // Keep the span (and a bounded number of points) so hours of watching cost nothing.
      const newest = plot.t.length ? plot.t[plot.t.length - 1] : 0;
      let drop = 0;
      while (drop < plot.t.length && plot.t[drop] < newest - SPAN_S) drop++;
      drop = Math.max(drop, plot.t.length - 20000);
      if (drop > 0) {
        plot.t.splice(0, drop);
        plot.v.splice(0, drop);
      }
      plot.uplot.setData([plot.t, plot.v], !plot.zoomed);
    }
  }

  /** Double-click in a plot returns it to following the live data. */
  installZoomReset() {
    this.box.addEventListener("dblclick", (event) => {
      const card = event.target.closest("[data-plot]");
      const plot = card && this.plots.get(card.dataset.plot);
      if (plot) {
        plot.zoomed = false;
        plot.dirty = true;
      }
    });
  }
}

function utcTick(unixSeconds, increment) {
  const iso = new Date(unixSeconds * 1000).toISOString();
  return increment < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
}
