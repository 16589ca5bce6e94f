// Shared by the annotation pages: slider groups in Lightroom's Basic-panel order, value formatting,
// CIELAB means and PPR10K's M_GLC (same definition as inference/agreement.py), histograms, and a
// harmonization-aware preview of one photo.
import { applyAdjustments, loadKernel } from "./adjust-preview.js";

export const SLIDER_GROUPS = [
  ["White balance", ["temperature", "tint"]],
  ["Tone", ["exposure", "contrast", "highlights", "shadows", "whites", "blacks"]],
  ["Presence", ["texture", "clarity", "dehaze", "vibrance", "saturation"]],
];
export const LABELS = {
  temperature: "Temp", tint: "Tint", exposure: "Exposure", contrast: "Contrast", highlights: "Highlights",
  shadows: "Shadows", whites: "Whites", blacks: "Blacks", texture: "Texture", clarity: "Clarity",
  dehaze: "Dehaze", vibrance: "Vibrance", saturation: "Saturation", tone_curve: "Tone curve",
};

export function formatValue(name, v) {
  const n = Number(v) || 0;
  if (name === "exposure") return `${n > 0 ? "+" : ""}${n.toFixed(2)}`;
  return `${n > 0 ? "+" : ""}${Math.round(n)}`;
}

export const STATE_LABELS = {
  queued: "Queued", in_progress: "In progress", in_review: "In review", changes_requested: "Changes requested",
  accepted: "Accepted", frozen: "Frozen",
};

// sRGB 8-bit code → linear light, and CIELAB (D65) of a linear RGB triple.
const LINEAR = new Float64Array(256).map((_, k) => {
  const x = k / 255;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
});
const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);

export function labOf(r, g, b) {
  const R = LINEAR[r]; const G = LINEAR[g]; const B = LINEAR[b];
  const x = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
  const fy = f(y);
  return [116 * fy - 16, 500 * (f(x) - fy), 200 * (fy - f(z))];
}

// Mean L*, a*, b* of RGBA pixel data (every `step`-th pixel).
export function meanLab(rgba, step = 1) {
  let L = 0; let A = 0; let B = 0; let n = 0;
  for (let i = 0; i < rgba.length; i += 4 * step) {
    const lab = labOf(rgba[i], rgba[i + 1], rgba[i + 2]);
    L += lab[0]; A += lab[1]; B += lab[2]; n++;
  }
  return n ? [L / n, A / n, B / n] : [0, 0, 0];
}

const sampleVar = (xs) => {
  if (xs.length < 2) return 0;
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
};

// PPR10K's released M_GLC of one group from each photo's mean Lab: ½ (Var(a*) + Var(b*)), N − 1.
export function glc(means) {
  return 0.5 * (sampleVar(means.map((m) => m[1])) + sampleVar(means.map((m) => m[2])));
}

// The photo whose removal lowers the group's M_GLC most (null below 3 photos).
export function glcOutlier(means) {
  if (means.length < 3) return null;
  let best = null; let bestValue = Infinity;
  means.forEach((_, i) => {
    const v = glc(means.filter((__, j) => j !== i));
    if (v < bestValue) { bestValue = v; best = i; }
  });
  return best;
}

// RGB + luminance histograms (256 bins) and clipped shares (all three channels at 0 / 255).
export function histogram(rgba, step = 1) {
  const bins = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)];
  let white = 0; let black = 0; let n = 0;
  for (let i = 0; i < rgba.length; i += 4 * step) {
    const r = rgba[i]; const g = rgba[i + 1]; const b = rgba[i + 2];
    bins[0][r]++; bins[1][g]++; bins[2][b]++;
    bins[3][(0.2126 * r + 0.7152 * g + 0.0722 * b) | 0]++;
    if (r === 255 && g === 255 && b === 255) white++;
    else if (r === 0 && g === 0 && b === 0) black++;
    n++;
  }
  return { bins, white: white / Math.max(n, 1), black: black / Math.max(n, 1) };
}

export function drawHistogram(canvas, hist) {
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  let top = 1;
  for (const bins of hist.bins.slice(0, 3)) for (let k = 1; k < 255; k++) top = Math.max(top, bins[k]);
  ctx.globalCompositeOperation = "lighter";
  ["rgba(230,60,60,.75)", "rgba(60,200,90,.75)", "rgba(70,120,240,.75)"].forEach((colour, c) => {
    ctx.fillStyle = colour;
    ctx.beginPath(); ctx.moveTo(0, h);
    for (let k = 0; k < 256; k++) ctx.lineTo((k / 255) * w, h - Math.min(1, hist.bins[c][k] / top) * (h - 2));
    ctx.lineTo(w, h); ctx.closePath(); ctx.fill();
  });
  ctx.globalCompositeOperation = "source-over";
}

// Preview of one photo: the adjust renderer in the browser; for harmonization tasks only inside
// the foreground mask (alpha in 0..255), as the server renders it (webapp/annotation/rendering.py).
// `into` (optional): a Uint8ClampedArray of the right size to write into instead of a new one.
// `rows` (optional): [y0, y1], only that band of rows (as applyAdjustments; a LivePreview worker's).
export function previewPixels(source, params, fgMask = null, into = null, rows = null) {
  const { width, height } = source;
  const out = applyAdjustments(source.data, params, { width, height }, into, rows);
  if (fgMask) {
    const src = source.data;
    for (let i = 0, k = rows ? rows[0] * width * 4 : 0; i < out.length; i += 4, k += 4) {
      const m = fgMask[k >> 2] / 255;
      out[i] = src[k] + m * (out[i] - src[k]);
      out[i + 1] = src[k + 1] + m * (out[i + 1] - src[k + 1]);
      out[i + 2] = src[k + 2] + m * (out[i + 2] - src[k + 2]);
    }
  }
  return out;
}

const WORKER_URL = new URL("./preview-worker.js", import.meta.url);

// Slider → canvas at interactive rates: previewPixels (the same code) in row bands on module Web
// Workers, so the page's main thread stays free and every core works on one frame. Each worker keeps
// the whole source (the neighbourhood maps need it) and gets only the parameters per frame; its band
// comes back as a transferred buffer and is handed back with the next frame (no copies, no garbage).
// Only the newest parameters are rendered: while a frame is out, a newer request replaces the one
// waiting (its promise resolves false), so a fast drag never queues up. Both bands are drawn
// together, so the canvas never shows two settings at once. Without workers (or when one fails) the
// frames are rendered synchronously, as before.
export class LivePreview {
  // One band per core up to 4 (2 on this project's machines); more would only add round trips.
  constructor(ctx, { workers = Math.min(4, (typeof navigator !== "undefined" && navigator.hardwareConcurrency) || 2),
    sync = false, workerUrl = WORKER_URL } = {}) {
    loadKernel(); // the page's own frames (drawNow, the fallback) use the workers' loops once it is in
    this.ctx = ctx;
    this.source = null;
    this.fg = null;
    this.id = 0;        // source generation: bands of an older source are dropped
    this.seq = 0;
    this.inflight = null;
    this.pending = null;
    this.frame = null;  // the synchronous path's reused ImageData
    this.workerMs = []; // per frame: the slowest band's compute time inside its worker (wall)
    this.pool = [];
    if (!sync && typeof Worker !== "undefined") {
      try {
        for (let k = 0; k < Math.max(1, workers); k++) {
          const worker = new Worker(workerUrl, { type: "module" });
          worker.onmessage = (e) => this.#onBand(k, e.data);
          worker.onerror = (e) => this.#fail(e.message || "preview worker failed");
          this.pool.push({ worker, rows: null, buffer: null });
        }
      } catch (error) {
        this.#fail(error.message);
      }
    }
  }

  get mode() { return this.pool.length ? "workers" : "sync"; }

  get workers() { return this.pool.length; }

  setSource(source, fg = null) {
    this.#drop();
    this.source = source;
    this.fg = fg;
    this.id++;
    const n = this.pool.length;
    this.pool.forEach((w, k) => {
      w.rows = [Math.round((k * source.height) / n), Math.round(((k + 1) * source.height) / n)];
      w.buffer = null;
      w.worker.postMessage({ type: "source", id: this.id, data: source.data, width: source.width,
        height: source.height, fg, rows: w.rows });
    });
  }

  // Resolves true once these parameters are on the canvas, false when newer ones superseded them.
  render(params) {
    return new Promise((resolve) => {
      if (!this.source) { resolve(false); return; }
      if (!this.pool.length) { this.#drawSync(params); resolve(true); return; }
      if (this.pending) this.pending.resolve(false);
      this.pending = { params, resolve };
      if (!this.inflight) this.#dispatch();
    });
  }

  // A committed value (a slider released): drawn at once on this thread, so the canvas is current
  // when the event handler returns; frames still out are dropped.
  drawNow(params) {
    this.#drop();
    if (this.source) this.#drawSync(params);
  }

  // The unedited source (before/after), at once; a frame still out is not drawn over it.
  drawSource() {
    this.#drop();
    if (this.source) this.ctx.putImageData(this.source, 0, 0);
  }

  // The pixels on the canvas now (for the histogram; not per frame).
  pixels() {
    const { width, height } = this.source;
    return this.ctx.getImageData(0, 0, width, height).data;
  }

  terminate() {
    this.pool.forEach((w) => w.worker.terminate());
    this.pool = [];
  }

  #drop() {
    if (this.inflight) { this.inflight.resolve(false); this.inflight.dropped = true; }
    if (this.pending) { this.pending.resolve(false); this.pending = null; }
  }

  #dispatch() {
    const { params, resolve } = this.pending;
    this.pending = null;
    this.inflight = { seq: ++this.seq, id: this.id, params, resolve, bands: [], left: this.pool.length, dropped: false };
    for (const w of this.pool) {
      const buffer = w.buffer;
      w.buffer = null;
      w.worker.postMessage({ type: "frame", id: this.id, seq: this.seq, params, buffer }, buffer ? [buffer] : []);
    }
  }

  #onBand(k, m) {
    if (m.type === "error") { this.#fail(m.message); return; }
    const f = this.inflight;
    if (!f || m.seq !== f.seq) return; // a frame dropped with its source: its buffer is not reused
    f.bands[k] = m;
    if (--f.left) return;
    this.inflight = null;
    if (f.id === this.id && f.bands.every((b) => !b.stale)) {
      if (!f.dropped) {
        const { width } = this.source;
        this.pool.forEach((w, i) => {
          const band = new Uint8ClampedArray(f.bands[i].buffer);
          if (band.length) this.ctx.putImageData(new ImageData(band, width, w.rows[1] - w.rows[0]), 0, w.rows[0]);
        });
        this.workerMs.push(Math.max(...f.bands.map((b) => b.ms)));
        if (this.workerMs.length > 500) this.workerMs.shift();
        f.resolve(true);
      }
      this.pool.forEach((w, i) => { w.buffer = f.bands[i].buffer; }); // back to its worker with the next frame
    } else if (!f.dropped) {
      f.resolve(false);
    }
    if (this.pending) this.#dispatch();
  }

  #drawSync(params) {
    const { width, height } = this.source;
    if (!this.frame || this.frame.width !== width || this.frame.height !== height) this.frame = new ImageData(width, height);
    previewPixels(this.source, params, this.fg, this.frame.data);
    this.ctx.putImageData(this.frame, 0, 0);
  }

  // A worker that cannot start or throws: the rest of the session renders synchronously.
  #fail(message) {
    if (typeof console !== "undefined") console.warn(`preview workers off (${message}); rendering on the page`);
    this.terminate();
    const waiting = [this.inflight, this.pending].filter((f) => f && !f.dropped);
    this.inflight = null;
    this.pending = null;
    const last = waiting[waiting.length - 1];
    for (const f of waiting) if (f !== last) f.resolve(false);
    if (last && this.source) { this.#drawSync(last.params); last.resolve(true); }
  }
}

export async function loadPixels(url, maxSide = Infinity) {
  const img = new Image();
  img.src = url;
  await img.decode();
  const s = Math.min(1, maxSide / Math.max(img.naturalWidth, img.naturalHeight));
  const c = document.createElement("canvas");
  c.width = Math.max(1, Math.round(img.naturalWidth * s)); c.height = Math.max(1, Math.round(img.naturalHeight * s));
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0, c.width, c.height);
  return ctx.getImageData(0, 0, c.width, c.height);
}

// A mask image as one byte per pixel at (width, height).
export async function loadMask(url, width, height) {
  const img = new Image();
  img.src = url;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = width; c.height = height;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0, width, height);
  const d = ctx.getImageData(0, 0, width, height).data;
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = d[i * 4];
  return out;
}
