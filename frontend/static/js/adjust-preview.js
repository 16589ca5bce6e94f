// Instant browser preview of the `adjust` engine (its renderer: inference/render.py).
//
// Re-implements docs/adjustments.md on 8-bit canvas data so a page can show slider moves at once,
// before the server's full-resolution result arrives. It must match the server within ΔE76 < 1
// (tests/browser/test_adjust_preview.py checks it): change the formulas in both places together.
//
// Usage (ES module, no build step):
//   import { applyAdjustments, adjustImageData } from "/static/js/adjust-preview.js";
//   const out = applyAdjustments(ctx.getImageData(0, 0, w, h).data, { exposure: 0.5 });
//   ctx.putImageData(new ImageData(out, w, h), 0, 0);

export const LUMA = [0.2126, 0.7152, 0.0722];
export const TEMPERATURE_STOPS = 0.5;
export const TINT_STOPS = 0.5;
export const WHITES_RANGE = 0.2;
export const BLACKS_RANGE = 0.2;

export const PARAM_RANGES = {
  exposure: [-5, 5],
  contrast: [-100, 100],
  highlights: [-100, 100],
  shadows: [-100, 100],
  whites: [-100, 100],
  blacks: [-100, 100],
  temperature: [-100, 100],
  tint: [-100, 100],
  vibrance: [-100, 100],
  saturation: [-100, 100],
};

export const IDENTITY_PARAMS = Object.freeze({
  ...Object.fromEntries(Object.keys(PARAM_RANGES).map((k) => [k, 0])),
  tone_curve: [],
});

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

// Missing or non-numeric values mean identity; numbers are clamped to their slider range (the
// server rejects out-of-range values instead). Curve points are clamped to [0, 1] and sorted.
export function normalizeParams(params = {}) {
  const p = {};
  for (const [key, [lo, hi]] of Object.entries(PARAM_RANGES)) {
    const v = Number(params[key] ?? 0);
    p[key] = Number.isFinite(v) ? clamp(v, lo, hi) : 0;
  }
  const curve = Array.isArray(params.tone_curve) ? params.tone_curve : [];
  p.tone_curve = curve
    .filter((pt) => Array.isArray(pt) && pt.length === 2 && pt.every((c) => Number.isFinite(Number(c))))
    .map(([x, y]) => [clamp(Number(x), 0, 1), clamp(Number(y), 0, 1)])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .filter((pt, i, pts) => i === 0 || pt[0] !== pts[i - 1][0]); // the server rejects equal x
  return p;
}

export function srgbDecode(x) {
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}

// sRGB encoding for v >= 0, not clipped: the power segment continues above 1.
export function srgbEncodeExt(v) {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

export function whiteBalanceGains(temperature, tint) {
  const t = temperature / 100;
  const u = tint / 100;
  const raw = [2 ** (TEMPERATURE_STOPS * t), 2 ** (-TINT_STOPS * u), 2 ** (-TEMPERATURE_STOPS * t)];
  const norm = LUMA[0] * raw[0] + LUMA[1] * raw[1] + LUMA[2] * raw[2];
  return raw.map((g) => g / norm);
}

export function channelGains(p) {
  const ev = 2 ** p.exposure;
  return whiteBalanceGains(p.temperature, p.tint).map((g) => g * ev);
}

// Control points with (0,0) / (1,1) added when no point sits at x = 0 / x = 1.
export function curvePoints(points) {
  const pts = points.map(([x, y]) => [x, y]).sort((a, b) => a[0] - b[0]);
  if (pts[0][0] > 0) pts.unshift([0, 0]);
  if (pts[pts.length - 1][0] < 1) pts.push([1, 1]);
  return { xs: pts.map((q) => q[0]), ys: pts.map((q) => q[1]) };
}

// Fritsch–Carlson/Butland monotone tangents (the rule SciPy's PchipInterpolator uses).
export function pchipSlopes(xs, ys) {
  const n = xs.length;
  const h = [];
  const d = [];
  for (let k = 0; k < n - 1; k++) {
    h.push(xs[k + 1] - xs[k]);
    d.push((ys[k + 1] - ys[k]) / h[k]);
  }
  const m = new Array(n).fill(0);
  if (n === 2) return [d[0], d[0]];
  for (let k = 1; k < n - 1; k++) {
    if (d[k - 1] * d[k] > 0) {
      const w1 = 2 * h[k] + h[k - 1];
      const w2 = h[k] + 2 * h[k - 1];
      m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k]);
    }
  }
  const edge = (h0, h1, d0, d1) => {
    const s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
    if (Math.sign(s) !== Math.sign(d0)) return 0;
    if (Math.sign(d0) !== Math.sign(d1) && Math.abs(s) > 3 * Math.abs(d0)) return 3 * d0;
    return s;
  };
  m[0] = edge(h[0], h[1], d[0], d[1]);
  m[n - 1] = edge(h[n - 2], h[n - 3], d[n - 2], d[n - 3]);
  return m;
}

// The tone curve as a function (null for an empty curve); unit slope outside [0, 1].
export function toneCurveFunction(points) {
  if (!points || points.length === 0) return null;
  const { xs, ys } = curvePoints(points);
  const m = pchipSlopes(xs, ys);
  const last = xs.length - 2;
  return (v) => {
    const q = clamp(v, 0, 1);
    let k = 0;
    while (k < last && xs[k + 1] <= q) k++;
    const h = xs[k + 1] - xs[k];
    const t = (q - xs[k]) / h;
    const t2 = t * t;
    const t3 = t2 * t;
    const y = (2 * t3 - 3 * t2 + 1) * ys[k] + (t3 - 2 * t2 + t) * h * m[k]
      + (-2 * t3 + 3 * t2) * ys[k + 1] + (t3 - t2) * h * m[k + 1];
    return y + (v - q);
  };
}

// Contrast, highlights, shadows, whites, blacks, in that order, on an sRGB-encoded value.
export function toneSliders(e, p) {
  let q;
  if (p.contrast) { q = clamp(e, 0, 1); e += (p.contrast / 100) * q * (1 - q) * (2 * q - 1); }
  if (p.highlights) { q = clamp(e, 0, 1); e += (p.highlights / 100) * q * q * (1 - q); }
  if (p.shadows) { q = clamp(e, 0, 1); e += (p.shadows / 100) * q * (1 - q) * (1 - q); }
  if (p.whites) { q = clamp(e, 0, 1); e += (p.whites / 100) * WHITES_RANGE * q * q * q; }
  if (p.blacks) { q = clamp(e, 0, 1); e += (p.blacks / 100) * BLACKS_RANGE * (1 - q) ** 3; }
  return e;
}

// Stage 1 for each channel: input code value k (0..size-1, x = k / (size-1)) → encoded value.
export function buildChannelLuts(params, size = 256) {
  const p = normalizeParams(params);
  const gains = channelGains(p);
  const curve = toneCurveFunction(p.tone_curve);
  return gains.map((gain) => {
    const lut = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      let e = srgbEncodeExt(srgbDecode(k / (size - 1)) * gain);
      e = toneSliders(e, p);
      lut[k] = curve ? curve(e) : e;
    }
    return lut;
  });
}

// rgba: Uint8ClampedArray (ImageData.data). Returns a new Uint8ClampedArray; alpha is copied.
export function applyAdjustments(rgba, params = {}) {
  const p = normalizeParams(params);
  const [lr, lg, lb] = buildChannelLuts(p, 256);
  const sat = p.saturation / 100;
  const vib = p.vibrance / 100;
  const out = new Uint8ClampedArray(rgba.length);
  const [wr, wg, wb] = LUMA;
  for (let i = 0; i < rgba.length; i += 4) {
    let r = lr[rgba[i]];
    let g = lg[rgba[i + 1]];
    let b = lb[rgba[i + 2]];
    if (sat !== 0 || vib !== 0) {
      const y = wr * r + wg * g + wb * b;
      const c = Math.min(Math.max(r, g, b) - Math.min(r, g, b), 1);
      const f = (1 + sat) * (1 + vib * (1 - c) * (1 - c));
      r = y + f * (r - y);
      g = y + f * (g - y);
      b = y + f * (b - y);
    }
    // Uint8ClampedArray clamps to [0, 255] and rounds to nearest: this is the final clip.
    out[i] = clamp(r, 0, 1) * 255;
    out[i + 1] = clamp(g, 0, 1) * 255;
    out[i + 2] = clamp(b, 0, 1) * 255;
    out[i + 3] = rgba[i + 3];
  }
  return out;
}

export function adjustImageData(imageData, params = {}) {
  return new ImageData(applyAdjustments(imageData.data, params), imageData.width, imageData.height);
}
