// The time controls of a replay: shown only when the state says the console is watching
// a recording (`state.replay`). Pause, play, speed, step, and seek by wall time or T-time;
// each is a POST to /api/replay/... and the state's next update shows the result.

import { toast } from "./dialogs.js";
import { el, setText } from "./util.js";

const SPEEDS = [0.1, 0.5, 1, 2, 5, 10, 30, 100, 300, 1000];

function utc(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace("Z", "");
}

export class ReplayBar {
  /** @param {{onMoved: () => void}} hooks called when the replay jumped (a seek) */
  constructor(store, api, { onMoved }) {
    this.store = store;
    this.api = api;
    this.onMoved = onMoved;
    this.generation = null;
    this.dragging = false;
    this.bar = document.getElementById("replay-bar");
    this.position = document.getElementById("replay-position");
    this.range = document.getElementById("replay-range");
    this.slider = document.getElementById("replay-slider");
    this.toggle = document.getElementById("replay-toggle");
    this.stepButton = document.getElementById("replay-step");
    this.speed = document.getElementById("replay-speed");
    this.seekForm = document.getElementById("replay-seek");
    this.seekInput = document.getElementById("replay-seek-to");
    this.speed.replaceChildren(...SPEEDS.map((s) => el("option", { value: String(s) }, `${s}x`)));

    this.toggle.addEventListener("click", () => this.send(this.paused ? "play" : "pause"));
    this.stepButton.addEventListener("click", () => this.send("step", { batches: 1 }));
    this.speed.addEventListener("change", () => this.send("speed", { speed: Number(this.speed.value) }));
    this.slider.addEventListener("input", () => {
      this.dragging = true;
      setText(this.position, utc(Number(this.slider.value)));
    });
    this.slider.addEventListener("change", async () => {
      this.dragging = false;
      await this.send("seek", { time: new Date(Number(this.slider.value) * 1000).toISOString() });
    });
    this.seekForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = this.seekInput.value.trim();
      if (!text) return;
      // A T-time (T-01:00:00, -3600) or a wall time (ISO 8601).
      const isT = /^T?[+-]/.test(text) || /^-?\d+(\.\d+)?$/.test(text);
      if (await this.send("seek", isT ? { t: text } : { time: text })) this.seekInput.value = "";
    });
    store.on("state", ({ state }) => this.onState(state));
  }

  async send(action, body = {}) {
    try {
      const where = await this.api.post(`/api/replay/${action}`, body);
      this.draw(where);
      return true;
    } catch (err) {
      if (err.status !== 401) toast(`replay ${action}: ${err.detail}`);
      return false;
    }
  }

  onState(state) {
    const replay = state.replay;
    document.body.classList.toggle("replay", Boolean(replay));
    this.bar.hidden = !replay;
    if (!replay) return;
    if (this.generation !== null && replay.generation !== this.generation) this.onMoved();
    this.generation = replay.generation;
    this.draw(replay);
  }

  draw(replay) {
    this.paused = replay.paused;
    this.bar.dataset.paused = String(replay.paused);
    this.bar.dataset.ended = String(replay.ended);
    setText(this.toggle, replay.paused ? "Play" : "Pause");
    this.stepButton.disabled = !replay.paused || replay.ended;
    if (document.activeElement !== this.speed) this.speed.value = String(SPEEDS.includes(replay.speed) ? replay.speed : 1);
    this.slider.min = String(replay.first);
    this.slider.max = String(replay.last);
    this.slider.step = "0.1";
    if (!this.dragging) {
      this.slider.value = String(replay.position);
      setText(this.position, utc(replay.position));
    }
    setText(this.range, `${utc(replay.first)} to ${utc(replay.last)}${replay.ended ? " · end of record" : ""}`);
  }
}
