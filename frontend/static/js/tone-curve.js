// A point-curve editor for the renderer's `tone_curve` parameter, shared by the photo editor and the
// expert annotation editor. It works like Lightroom's Point Curve:
//   click the graph          adds a point on the curve at that input (then drag it);
//   drag a point             moves it (inputs stay in order; the end points move up and down only);
//   double-click a point,
//   drag it off the graph,
//   or Delete / Backspace    removes it;
//   Reset                    back to the straight line.
// Keyboard: Tab reaches each point; arrows move it by 1/255 (Shift: 10/255); "Add point" inserts one
// in the widest gap. The curve is drawn with adjust-preview.js's own PCHIP function, so what the graph
// shows is what the preview and the server render.
//
// Value: points [[x, y], …] in [0, 1] on sRGB-encoded values, sorted by x, without the implied end
// points (0, 0) and (1, 1) (docs/adjustments.md); [] is the identity.
// Events: onInput(points) while a point moves (preview only), onChange(points) when a move ends
// (record for undo, autosave).
import { toneCurveFunction } from "./adjust-preview.js";

const SVG = "http://www.w3.org/2000/svg";
const VIEW = 256;             // viewBox units per axis
const MIN_GAP = 0.02;         // inputs of neighbouring points stay at least this far apart
const REMOVE_MARGIN = 0.12;   // a point dragged this far outside the graph is removed on release
const MAX_POINTS = 16;        // the renderer takes up to 64; more than 16 is never a tone curve
const STEP = 1 / 255;
const round4 = (v) => Math.round(v * 10000) / 10000;
const clamp01 = (v) => Math.min(1, Math.max(0, v));

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function html(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

// Full point list with both end points present, sorted; tolerant of anything a server or an XMP
// import may hold.
function withEnds(points) {
  const pts = (Array.isArray(points) ? points : [])
    .filter((p) => Array.isArray(p) && p.length === 2 && p.every((c) => Number.isFinite(Number(c))))
    .map(([x, y]) => [clamp01(Number(x)), clamp01(Number(y))])
    .sort((a, b) => a[0] - b[0]);
  if (!pts.length || pts[0][0] > 0) pts.unshift([0, 0]);
  if (pts.at(-1)[0] < 1) pts.push([1, 1]);
  return pts;
}

export class ToneCurve {
  constructor(host, { onInput = () => {}, onChange = () => {}, label = "Tone curve" } = {}) {
    this.host = host;
    this.onInput = onInput;
    this.onChange = onChange;
    this.points = withEnds([]);
    this.active = -1;          // index of the selected point
    this.drag = null;          // {index, removing}
    this.enabled = true;
    this.histogram = null;
    this.build(label);
    this.draw();
  }

  // --- value ---------------------------------------------------------------------------------------
  value() {
    const pts = this.points.filter((_, i) => !(this.drag?.removing && i === this.drag.index));
    return pts
      .filter(([x, y], i) => !((i === 0 && x === 0 && y === 0) || (i === pts.length - 1 && x === 1 && y === 1)))
      .map(([x, y]) => [round4(x), round4(y)]);
  }

  setValue(points) {
    if (this.drag) return; // the person is dragging: their curve wins until they let go
    const next = withEnds(points);
    if (JSON.stringify(next) === JSON.stringify(this.points)) return;
    this.points = next;
    if (this.active >= this.points.length) this.active = -1;
    this.draw();
  }

  setEnabled(on) {
    this.enabled = on;
    this.root.classList.toggle("disabled", !on);
    this.addButton.disabled = !on;
    this.resetButton.disabled = !on;
    this.draw();
  }

  // 256 luminance bins drawn faintly behind the curve (optional).
  setHistogram(bins) {
    this.histogram = bins;
    this.drawHistogram();
  }

  // --- DOM -------------------------------------------------------------------------------------------
  build(label) {
    this.root = html("div", { class: "tone-curve" });
    this.svg = svg("svg", { viewBox: `-6 -6 ${VIEW + 12} ${VIEW + 12}`, class: "tc-graph", role: "group",
      "aria-label": `${label}: click to add a point, drag to move, double-click or Delete to remove` });
    this.plot = svg("rect", { x: 0, y: 0, width: VIEW, height: VIEW, class: "tc-bg" });
    this.svg.append(this.plot);
    this.histPath = svg("path", { class: "tc-hist" });
    this.svg.append(this.histPath);
    for (let k = 1; k < 4; k++) {
      const v = (k * VIEW) / 4;
      this.svg.append(svg("line", { x1: v, y1: 0, x2: v, y2: VIEW, class: "tc-grid" }));
      this.svg.append(svg("line", { x1: 0, y1: v, x2: VIEW, y2: v, class: "tc-grid" }));
    }
    this.svg.append(svg("line", { x1: 0, y1: VIEW, x2: VIEW, y2: 0, class: "tc-diagonal" }));
    this.curvePath = svg("path", { class: "tc-curve" });
    this.svg.append(this.curvePath);
    this.dots = svg("g", { class: "tc-points" });
    this.svg.append(this.dots);

    const bar = html("div", { class: "tc-bar" });
    this.readout = html("span", { class: "tc-readout", "aria-live": "polite" }, "Click to add a point");
    this.addButton = html("button", { type: "button", class: "tc-button", title: "Add a point in the widest gap" }, "Add point");
    this.resetButton = html("button", { type: "button", class: "tc-button", title: "Straight line (no curve)" }, "Reset");
    bar.append(this.readout, this.addButton, this.resetButton);
    this.root.append(this.svg, bar);
    this.host.replaceChildren(this.root);

    this.svg.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.svg.addEventListener("pointermove", (e) => this.pointerMove(e));
    this.svg.addEventListener("pointerup", (e) => this.pointerUp(e));
    this.svg.addEventListener("pointercancel", (e) => this.pointerUp(e));
    this.svg.addEventListener("dblclick", (e) => {
      // On a point: remove it. Off the curve, the double-click's first click added a point at that
      // input (on the curve, away from the pointer): remove that one, so nothing is left behind.
      let index = this.nearest(e);
      if (index < 0) {
        const x = this.toUnit(e)[0];
        index = this.points.findIndex((p, i) => i > 0 && i < this.points.length - 1 && Math.abs(p[0] - x) < MIN_GAP);
      }
      if (index >= 0 && this.enabled) this.remove(index);
    });
    this.addButton.addEventListener("click", () => this.addInWidestGap());
    this.resetButton.addEventListener("click", () => this.reset());
  }

  // The point under the pointer (within its drawn radius and a little), or -1. By position, not by
  // event target: with the pointer captured by the graph, clicks land on the graph itself.
  nearest(e) {
    const [x, y] = this.toUnit(e);
    let best = -1; let bestDistance = 12 / VIEW;
    this.points.forEach(([px, py], i) => {
      const d = Math.hypot(px - x, py - y);
      if (d < bestDistance) { best = i; bestDistance = d; }
    });
    return best;
  }

  // Client coordinates → curve coordinates, from where the plot area is drawn (robust to any
  // letterboxing of the viewBox).
  toUnit(e) {
    const r = this.plot.getBoundingClientRect();
    return [(e.clientX - r.left) / r.width, 1 - (e.clientY - r.top) / r.height];
  }

  draw() {
    const f = toneCurveFunction(this.value());
    const steps = 96;
    let d = "";
    for (let k = 0; k <= steps; k++) {
      const x = k / steps;
      const y = clamp01(f ? f(x) : x);
      d += `${k ? "L" : "M"}${(x * VIEW).toFixed(2)} ${((1 - y) * VIEW).toFixed(2)}`;
    }
    this.curvePath.setAttribute("d", d);
    // Circles are reused while the number of points stays the same, so a pointer or focus on one
    // survives redraws (a drag redraws on every move).
    let dots = [...this.dots.children];
    if (dots.length !== this.points.length) {
      dots = this.points.map((_, i) => {
        const dot = svg("circle", { r: 7, "data-index": i, role: "img", "aria-roledescription": "curve point" });
        dot.addEventListener("keydown", (e) => this.key(e, Number(dot.dataset.index)));
        dot.addEventListener("keyup", (e) => { if (e.key.startsWith("Arrow") && this.enabled) this.onChange(this.value()); });
        dot.addEventListener("focus", () => { this.active = Number(dot.dataset.index); this.describe(this.active); this.markActive(); });
        return dot;
      });
      this.dots.replaceChildren(...dots);
    }
    this.points.forEach(([x, y], i) => {
      const end = i === 0 || i === this.points.length - 1;
      const removing = this.drag?.removing && this.drag.index === i;
      const dot = dots[i];
      dot.setAttribute("cx", x * VIEW); dot.setAttribute("cy", (1 - y) * VIEW);
      dot.setAttribute("class", `tc-point${i === this.active ? " active" : ""}${end ? " end" : ""}${removing ? " removing" : ""}`);
      dot.setAttribute("tabindex", this.enabled ? 0 : -1);
      dot.setAttribute("aria-label", `${end ? (i === 0 ? "Black point" : "White point") : `Point ${i}`}: input ${Math.round(x * 255)}, output ${Math.round(y * 255)}`);
    });
    this.root.dataset.points = String(this.value().length);
    this.root.classList.toggle("changed", this.value().some(([x, y]) => x !== y));
  }

  markActive() {
    this.dots.querySelectorAll(".tc-point").forEach((dot, k) => dot.classList.toggle("active", k === this.active));
  }

  drawHistogram() {
    const bins = this.histogram;
    if (!bins) { this.histPath.setAttribute("d", ""); return; }
    let top = 1;
    for (let k = 1; k < 255; k++) top = Math.max(top, bins[k]);
    let d = `M0 ${VIEW}`;
    for (let k = 0; k < 256; k++) d += `L${((k / 255) * VIEW).toFixed(1)} ${(VIEW - Math.min(1, bins[k] / top) * VIEW * 0.9).toFixed(1)}`;
    this.histPath.setAttribute("d", `${d}L${VIEW} ${VIEW}Z`);
  }

  describe(i) {
    const p = this.points[i];
    if (!p) return;
    this.readout.textContent = `In ${Math.round(p[0] * 255)} · Out ${Math.round(p[1] * 255)}`;
  }

  focusPoint(i) {
    this.active = i;
    this.dots.querySelectorAll(".tc-point")[i]?.focus();
  }

  // --- editing ---------------------------------------------------------------------------------------
  // Move point i towards (x, y), keeping inputs ordered; end points keep their input.
  place(i, x, y) {
    const last = this.points.length - 1;
    if (i === 0) x = 0;
    else if (i === last) x = 1;
    else x = Math.min(this.points[i + 1][0] - MIN_GAP, Math.max(this.points[i - 1][0] + MIN_GAP, x));
    this.points[i] = [x, clamp01(y)];
  }

  insert(x) {
    if (this.points.length - 2 >= MAX_POINTS) return -1;
    const f = toneCurveFunction(this.value());
    const i = this.points.findIndex((p) => p[0] > x);
    if (i <= 0 || x - this.points[i - 1][0] < MIN_GAP || this.points[i][0] - x < MIN_GAP) return -1;
    this.points.splice(i, 0, [x, clamp01(f ? f(x) : x)]);
    return i;
  }

  remove(i) {
    if (i <= 0 || i >= this.points.length - 1) return;
    this.points.splice(i, 1);
    this.active = Math.min(i, this.points.length - 2);
    this.draw();
    this.onChange(this.value());
    this.readout.textContent = "Point removed";
  }

  addInWidestGap() {
    if (!this.enabled) return;
    let best = 0;
    for (let k = 1; k < this.points.length - 1; k++) {
      if (this.points[k + 1][0] - this.points[k][0] > this.points[best + 1][0] - this.points[best][0]) best = k;
    }
    const i = this.insert((this.points[best][0] + this.points[best + 1][0]) / 2);
    if (i < 0) return;
    this.draw();
    this.onChange(this.value());
    this.focusPoint(i);
  }

  reset() {
    if (!this.enabled) return;
    this.points = withEnds([]);
    this.active = -1;
    this.draw();
    this.onChange(this.value());
    this.readout.textContent = "Curve reset";
  }

  key(e, i) {
    if (!this.enabled) return;
    const step = e.shiftKey ? 10 * STEP : STEP;
    const [x, y] = this.points[i];
    const moves = { ArrowUp: [0, step], ArrowDown: [0, -step], ArrowLeft: [-step, 0], ArrowRight: [step, 0] };
    if (moves[e.key]) {
      e.preventDefault();
      e.stopPropagation(); // the editors' own arrow keys (next photo) must not fire from here
      this.place(i, x + moves[e.key][0], y + moves[e.key][1]);
      this.draw(); this.focusPoint(i); this.describe(i);
      this.onInput(this.value());
    } else if (e.key === "Delete" || e.key === "Backspace") {
      e.preventDefault(); e.stopPropagation();
      if (i > 0 && i < this.points.length - 1) { this.remove(i); this.focusPoint(this.active); }
    }
  }

  pointerDown(e) {
    if (!this.enabled || e.button !== 0) return;
    let index = this.nearest(e);
    const added = index < 0;
    if (added) {
      index = this.insert(this.toUnit(e)[0]);
      if (index < 0) return;
    }
    e.preventDefault();
    this.drag = { index, removing: false, moved: false, added };
    this.active = index;
    this.svg.setPointerCapture(e.pointerId);
    this.draw(); this.describe(index);
    this.dots.querySelectorAll(".tc-point")[index]?.focus({ preventScroll: true });
  }

  pointerMove(e) {
    if (!this.drag) return;
    const [x, y] = this.toUnit(e);
    const i = this.drag.index;
    const end = i === 0 || i === this.points.length - 1;
    this.drag.removing = !end && (x < -REMOVE_MARGIN || x > 1 + REMOVE_MARGIN || y < -REMOVE_MARGIN || y > 1 + REMOVE_MARGIN);
    this.drag.moved = true;
    this.place(i, x, y);
    this.draw();
    if (this.drag.removing) this.readout.textContent = "Release to remove the point"; else this.describe(i);
    this.onInput(this.value());
  }

  pointerUp(e) {
    if (!this.drag) return;
    const { index, removing, moved, added } = this.drag;
    this.drag = null;
    if (this.svg.hasPointerCapture?.(e.pointerId)) this.svg.releasePointerCapture(e.pointerId);
    if (removing) { this.points.splice(index, 1); this.active = -1; this.readout.textContent = "Point removed"; }
    this.draw();
    if (moved || added || removing) this.onChange(this.value());
  }
}
