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
// The neighbourhood sliders (texture, clarity, dehaze) need the image size:
//   applyAdjustments(data, { clarity: 30 }, { width: w, height: h })  — or adjustImageData(imageData, …).
// Their maps depend on the source pixels only, so they are computed once per source array and cached.
// One band of rows (what each LivePreview worker renders, annotation-common.js):
//   applyAdjustments(data, params, { width: w, height: h }, out, [y0, y1])
// The per-pixel loops have a WebAssembly SIMD twin (preview-kernel.wat, below the JS loops), used
// once loadKernel() has loaded it; the JS loops here are the reference and the fallback.

export const LUMA = [0.2126, 0.7152, 0.0722];
export const TEMPERATURE_STOPS = 0.5;
export const TINT_STOPS = 0.5;
export const WHITES_RANGE = 0.2;
export const BLACKS_RANGE = 0.2;
export const LOCAL_PARAMS = ["texture", "clarity", "dehaze"];
export const TEXTURE_RADIUS = 0.004;
export const CLARITY_RADIUS = 0.03;
export const TEXTURE_GAIN = 1.5;
export const CLARITY_GAIN = 1.0;
export const DEHAZE_STRENGTH = 0.5;

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
  texture: [-100, 100],
  clarity: [-100, 100],
  dehaze: [-100, 100],
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

// --- stage 1b: neighbourhood sliders (maps of the source, cached per source array) ------------
export function localRadii(height, width) {
  const short = Math.min(height, width);
  const cap = Math.max(0, Math.floor((short - 1) / 2));
  return [Math.min(cap, Math.max(1, Math.round(TEXTURE_RADIUS * short))),
    Math.min(cap, Math.max(1, Math.round(CLARITY_RADIUS * short)))];
}

const reflect = (i, n) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i); // OpenCV's BORDER_REFLECT_101

// Mean over the (2r + 1)² window, separable running sums (float64 sums, float32 storage). With
// rows = [y0, y1], only those output rows (a worker's band): the horizontal pass then covers the band
// and r rows either side, so a band costs its share of the work and gives the whole image's values.
export function boxMean(src, width, height, r, rows = null) {
  const [y0, y1] = rows || [0, height];
  if (r <= 0) return Float32Array.from(src.subarray(y0 * width, y1 * width));
  const n = 2 * r + 1;
  const lo = Math.max(0, y0 - r);
  const hi = Math.min(height, y1 + r);
  const tmp = new Float32Array((hi - lo) * width);
  const out = new Float32Array((y1 - y0) * width);
  for (let y = lo; y < hi; y++) {
    const row = y * width;
    const t = (y - lo) * width;
    let s = 0;
    for (let k = -r; k <= r; k++) s += src[row + reflect(k, width)];
    for (let x = 0; x < width; x++) {
      tmp[t + x] = s / n;
      s += src[row + reflect(x + r + 1, width)] - src[row + reflect(x - r, width)];
    }
  }
  for (let x = 0; x < width; x++) {
    let s = 0;
    for (let k = -r; k <= r; k++) s += tmp[(reflect(y0 + k, height) - lo) * width + x];
    for (let y = y0; y < y1; y++) {
      out[(y - y0) * width + x] = s / n;
      // (not after the band's last row: that row's successor may lie outside the rows read)
      if (y + 1 < y1) s += tmp[(reflect(y + r + 1, height) - lo) * width + x] - tmp[(reflect(y - r, height) - lo) * width + x];
    }
  }
  return out;
}

const mapCache = new WeakMap(); // source rgba → Map(name → Float32Array)

// Texture and clarity detail (Y − box(Y, r)) and haze (box of the darkest channel) of the source,
// for rows [y0, y1) (default: all), indexed from row y0.
export function localMaps(rgba, width, height, p, rows = null) {
  if (rgba.length !== width * height * 4) throw new Error("local sliders: width × height does not match the data");
  const [y0, y1] = rows || [0, height];
  const key = `${width}x${height}:${y0}-${y1}`;
  let cache = mapCache.get(rgba);
  if (!cache || cache.get("size") !== `${width}x${height}`) {
    cache = new Map([["size", `${width}x${height}`]]);
    mapCache.set(rgba, cache);
  }
  const [rt, rc] = localRadii(height, width);
  const luma = () => {
    if (!cache.has("y")) {
      const y = new Float32Array(width * height);
      for (let i = 0, j = 0; j < y.length; i += 4, j++) y[j] = (LUMA[0] * rgba[i] + LUMA[1] * rgba[i + 1] + LUMA[2] * rgba[i + 2]) / 255;
      cache.set("y", y);
    }
    return cache.get("y");
  };
  const detail = (name, r) => {
    if (!cache.has(name + key)) {
      const y = luma();
      const blurred = boxMean(y, width, height, r, [y0, y1]);
      for (let j = 0, k = y0 * width; j < blurred.length; j++, k++) blurred[j] = y[k] - blurred[j];
      cache.set(name + key, blurred);
    }
    return cache.get(name + key);
  };
  const maps = {};
  if (p.texture) maps.texture = detail("texture", rt);
  if (p.clarity) maps.clarity = detail("clarity", rc);
  if (p.dehaze) {
    if (!cache.has("haze" + key)) {
      if (!cache.has("dark")) {
        const dark = new Float32Array(width * height);
        for (let i = 0, j = 0; j < dark.length; i += 4, j++) dark[j] = Math.min(rgba[i], rgba[i + 1], rgba[i + 2]) / 255;
        cache.set("dark", dark);
      }
      cache.set("haze" + key, boxMean(cache.get("dark"), width, height, rc, [y0, y1]));
    }
    maps.haze = cache.get("haze" + key);
  }
  return maps;
}

const clamp01x255 = (v) => (v <= 0 ? 0 : v >= 1 ? 255 : v * 255);
const [WR, WG, WB] = LUMA;

// Pixels are read and written as 32-bit words, R in the low byte (little-endian, i.e. every browser
// in practice); a byte array that cannot be viewed so is copied (and byte-swapped on big-endian).
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const wordView = (a) => (LITTLE_ENDIAN && a.byteOffset % 4 === 0 ? new Uint32Array(a.buffer, a.byteOffset, a.length >> 2) : null);
function bswap(w) {
  for (let j = 0; j < w.length; j++) {
    const v = w[j];
    w[j] = ((v & 255) << 24) | (((v >>> 8) & 255) << 16) | (((v >>> 16) & 255) << 8) | (v >>> 24);
  }
  return w;
}
function sourceWords(rgba) {
  const w = wordView(rgba);
  if (w) return w;
  const copy = new Uint32Array(Uint8ClampedArray.from(rgba).buffer);
  return LITTLE_ENDIAN ? copy : bswap(copy);
}

// One output byte from a value in code units (0..255 scale): round half up, then clip (the old
// Uint8ClampedArray store rounded half to even: the two differ only on exact ties). NaN → 0. In
// integers: |0 truncates toward 0, so every x < 0.5 gives ≤ 0 and the sign mask makes it 0; values
// stay far inside ±2³¹ (a few thousand code units at most). Fewer float branches than clipping first.
const px = (x) => {
  const i = (x + 0.5) | 0;
  const c = i & ~(i >> 31);
  return c > 255 ? 255 : c;
};

// The kernels below read source words s[j0..j1) and write d[0..j1-j0): a row band of the image.
// Stage 1 alone is one 8-bit table per channel (the final clip and rounding folded into it).
function tableKernel(s, d, j0, j1, tr, tg, tb) {
  for (let j = j0, o = 0; j < j1; j++, o++) {
    const v = s[j];
    d[o] = (v & 0xff000000) | (tb[(v >>> 16) & 255] << 16) | (tg[(v >>> 8) & 255] << 8) | tr[v & 255];
  }
}

// Stage 1, stage 1b (neighbourhood maps of the band, indexed from its first pixel), stage 2; all in
// code units: texture adds kt·255·T, clarity kc·C·4y(1 − y)·255 = (4kc/255)·C·Y(255 − Y), dehaze
// maps x → (x − 255s) / (1 − s) with s = kd·haze. The formulas live once, in the small helpers
// below (TurboFan inlines them); each combination of maps has its own loop that calls only the
// helpers it needs, so no loop tests per pixel which maps are present (one general loop with those
// tests cost ≈ 15–20 % more with all three maps on; a branch-free one that read zero maps cost more
// with one).
function clarityAdd(kc4, c, r, g, b) {
  let y = WR * r + WG * g + WB * b;
  y = y < 0 ? 0 : y > 255 ? 255 : y;
  return kc4 * c * y * (255 - y);
}
// Stage 2 (when `colour`: saturation a = 1 + sat, vibrance; with m = 255 − min(max − min, 255) in
// code units, vib · d² = vk · m² with vk = vib / 255²), then the clip and rounding: the output word.
function finish(v, r, g, b, colour, a, vk) {
  if (colour) {
    const y = WR * r + WG * g + WB * b;
    const hi = r > g ? (r > b ? r : b) : (g > b ? g : b);
    const lo = r < g ? (r < b ? r : b) : (g < b ? g : b);
    const m = hi - lo < 255 ? 255 - (hi - lo) : 0;
    const f = a * (1 + vk * m * m);
    r = y + f * (r - y); g = y + f * (g - y); b = y + f * (b - y);
  }
  return (v & 0xff000000) | (px(b) << 16) | (px(g) << 8) | px(r);
}
// Stage 1 (tables in code units, i.e. × 255) then stage 2: the hot loop of a global slider drag.
// No calls that stay calls (finish and px are inlined), no allocations per pixel.
function colourKernel(s, d, j0, j1, lr, lg, lb, a, vk) {
  for (let j = j0, o = 0; j < j1; j++, o++) {
    const v = s[j];
    d[o] = finish(v, lr[v & 255], lg[(v >>> 8) & 255], lb[(v >>> 16) & 255], true, a, vk);
  }
}
// Dehaze of one channel value x (already with the detail added): sh = kd·haze, inv = 1 / (1 − sh).
const dehazed = (x, s255, inv) => (x - s255) * inv;

// One output word per combination of maps (T texture, C clarity, H haze; o indexes the band's maps).
function pixelT(v, o, lr, lg, lb, T, C, H, kt255, kc4, kd, colour, a, vk) {
  const add = kt255 * T[o];
  return finish(v, lr[v & 255] + add, lg[(v >>> 8) & 255] + add, lb[(v >>> 16) & 255] + add, colour, a, vk);
}
function pixelC(v, o, lr, lg, lb, T, C, H, kt255, kc4, kd, colour, a, vk) {
  const r = lr[v & 255], g = lg[(v >>> 8) & 255], b = lb[(v >>> 16) & 255];
  const add = clarityAdd(kc4, C[o], r, g, b);
  return finish(v, r + add, g + add, b + add, colour, a, vk);
}
function pixelTC(v, o, lr, lg, lb, T, C, H, kt255, kc4, kd, colour, a, vk) {
  const r = lr[v & 255], g = lg[(v >>> 8) & 255], b = lb[(v >>> 16) & 255];
  const add = kt255 * T[o] + clarityAdd(kc4, C[o], r, g, b);
  return finish(v, r + add, g + add, b + add, colour, a, vk);
}
function pixelH(v, o, lr, lg, lb, T, C, H, kt255, kc4, kd, colour, a, vk) {
  const sh = kd * H[o];
  const inv = 1 / (1 - sh);
  const s255 = 255 * sh;
  return finish(v, dehazed(lr[v & 255], s255, inv), dehazed(lg[(v >>> 8) & 255], s255, inv),
    dehazed(lb[(v >>> 16) & 255], s255, inv), colour, a, vk);
}
function pixelTH(v, o, lr, lg, lb, T, C, H, kt255, kc4, kd, colour, a, vk) {
  const add = kt255 * T[o];
  const sh = kd * H[o];
  const inv = 1 / (1 - sh);
  const s255 = 255 * sh;
  return finish(v, dehazed(lr[v & 255] + add, s255, inv), dehazed(lg[(v >>> 8) & 255] + add, s255, inv),
    dehazed(lb[(v >>> 16) & 255] + add, s255, inv), colour, a, vk);
}
function pixelCH(v, o, lr, lg, lb, T, C, H, kt255, kc4, kd, colour, a, vk) {
  const r = lr[v & 255], g = lg[(v >>> 8) & 255], b = lb[(v >>> 16) & 255];
  const add = clarityAdd(kc4, C[o], r, g, b);
  const sh = kd * H[o];
  const inv = 1 / (1 - sh);
  const s255 = 255 * sh;
  return finish(v, dehazed(r + add, s255, inv), dehazed(g + add, s255, inv), dehazed(b + add, s255, inv), colour, a, vk);
}
function pixelTCH(v, o, lr, lg, lb, T, C, H, kt255, kc4, kd, colour, a, vk) {
  const r = lr[v & 255], g = lg[(v >>> 8) & 255], b = lb[(v >>> 16) & 255];
  const add = kt255 * T[o] + clarityAdd(kc4, C[o], r, g, b);
  const sh = kd * H[o];
  const inv = 1 / (1 - sh);
  const s255 = 255 * sh;
  return finish(v, dehazed(r + add, s255, inv), dehazed(g + add, s255, inv), dehazed(b + add, s255, inv), colour, a, vk);
}
// The loops: one per combination and colour on/off, each a separate function, so that after
// inlining the colour test is a constant and each loop keeps its own type feedback (measured in
// Chromium 156: the colour test inside the loop cost ≈ 1–1.5 ms of ≈ 22 ms per 1600×1067 frame).
function loopTc(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelT(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, true, a, vk); }
function loopT(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelT(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, false, a, vk); }
function loopCc(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelC(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, true, a, vk); }
function loopC(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelC(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, false, a, vk); }
function loopTCc(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelTC(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, true, a, vk); }
function loopTC(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelTC(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, false, a, vk); }
function loopHc(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, true, a, vk); }
function loopH(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, false, a, vk); }
function loopTHc(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelTH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, true, a, vk); }
function loopTH(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelTH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, false, a, vk); }
function loopCHc(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelCH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, true, a, vk); }
function loopCH(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelCH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, false, a, vk); }
function loopTCHc(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelTCH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, true, a, vk); }
function loopTCH(s, d, j0, j1, lr, lg, lb, T, C, H, kt, kc, kd, a, vk) { for (let j = j0, o = 0; j < j1; j++, o++) d[o] = pixelTCH(s[j], o, lr, lg, lb, T, C, H, kt, kc, kd, false, a, vk); }
// Indexed by 2 × ((texture ? 1 : 0) | (clarity ? 2 : 0) | (haze ? 4 : 0)) + (colour ? 1 : 0).
const LOCAL_LOOPS = [null, null, loopT, loopTc, loopC, loopCc, loopTC, loopTCc,
  loopH, loopHc, loopTH, loopTHc, loopCH, loopCHc, loopTCH, loopTCHc];

function localKernel(s, d, j0, j1, lr, lg, lb, texture, clarity, haze, kt, kc, kd, colour, a, vk) {
  const loop = LOCAL_LOOPS[2 * ((texture ? 1 : 0) | (clarity ? 2 : 0) | (haze ? 4 : 0)) + (colour ? 1 : 0)];
  loop(s, d, j0, j1, lr, lg, lb, texture, clarity, haze, kt * 255, (4 * kc) / 255, kd, a, vk);
}

// --- SIMD fast path: preview-kernel.wat, the loops above in WebAssembly f32x4 --------------------
// The same stages on four pixels at a time (its header gives the build command). The JS loops above
// stay the reference and the fallback: they run until the module is loaded, and always where it
// cannot be (no WebAssembly or no SIMD, the file missing, a policy refusing the compile). f32 moves
// an output byte by one code value at rounding ties only (tests/browser/test_preview_wasm.py).
const KERNEL_URL = new URL("./preview-kernel.wasm", import.meta.url);
let simd = null; // {render, memory, region, maps} once instantiated
let simdLoading = null;
let simdWanted = true;

// Starts loading the kernel (once); resolves true when it is in use from then on, false when the
// JS loops stay. A worker awaits it before its first frame; the page uses the JS loops meanwhile.
export function loadKernel() {
  if (!simdLoading) {
    simdLoading = (async () => {
      try {
        if (typeof WebAssembly !== "object" || !WebAssembly || typeof fetch !== "function") return false;
        const response = await fetch(KERNEL_URL);
        if (!response.ok) return false;
        const { instance } = await WebAssembly.instantiate(await response.arrayBuffer());
        simd = { render: instance.exports.render, memory: instance.exports.memory, region: 0, maps: {} };
        return true;
      } catch {
        return false; // e.g. SIMD unsupported: the module does not validate
      }
    })();
  }
  return simdLoading;
}

// Which loops applyAdjustments runs now: "simd" or "js". useSimdKernel(false) forces the JS loops
// (the tests' reference); true (the default) uses the kernel whenever it is loaded.
export function activeKernel() { return simd && simdWanted ? "simd" : "js"; }
export function useSimdKernel(on = true) { simdWanted = Boolean(on); }

// Memory: tables at 0, then up to five regions of R bytes (R ≥ 4 bytes × pixels rounded up to a
// group of four): source words, output words, texture, clarity and haze maps. The source band is
// copied in per frame (its array may have been drawn into since); a map only when it is another
// array than the one already there (maps are cached per source, localMaps). False (nothing written)
// when the memory cannot grow: the JS loops render that frame.
const SIMD_BASE = 4096;
const MAP_SLOTS = ["texture", "clarity", "haze"];
function simdRender(rgba, out, j0, j1, luts, maps, flags, kt255, kc4, kd, a, vk) {
  const n = j1 - j0;
  const region = ((n + 3) & ~3) * 4;
  const need = SIMD_BASE + region * (flags & 7 ? 5 : 2);
  const { memory } = simd;
  if (memory.buffer.byteLength < need) {
    try {
      memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
    } catch {
      return false;
    }
  }
  if (simd.region !== region) { simd.region = region; simd.maps = {}; }
  const buffer = memory.buffer;
  const tables = new Float32Array(buffer, 0, 768);
  for (let c = 0; c < 3; c++) tables.set(luts[c], 256 * c);
  const src = SIMD_BASE;
  const dst = src + region;
  new Uint8ClampedArray(buffer, src, n * 4).set(rgba.subarray(j0 * 4, j1 * 4));
  const at = [0, 0, 0];
  MAP_SLOTS.forEach((name, k) => {
    const map = maps[name];
    if (!map) return;
    at[k] = dst + region * (k + 1);
    if (simd.maps[name] !== map) {
      new Float32Array(buffer, at[k], n).set(map);
      simd.maps[name] = map;
    }
  });
  simd.render(src, dst, at[0], at[1], at[2], n, flags, kt255, kc4, kd, a, vk);
  out.set(new Uint8ClampedArray(buffer, dst, n * 4));
  return true;
}

// rgba: Uint8ClampedArray (ImageData.data). Returns a new Uint8ClampedArray (or fills `out`, one of
// the right length, e.g. a reused ImageData's data: no 4 bytes × pixels allocation per frame); alpha
// is copied. size = {width, height} is needed when texture, clarity or dehaze is non-zero, and with
// rows = [y0, y1]: then only those rows are rendered and `out` holds (y1 − y0) × width pixels (a
// worker's band; the neighbourhood maps are still those of the whole image, so bands join seamlessly).
export function applyAdjustments(rgba, params = {}, size = null, out = null, rows = null) {
  const p = normalizeParams(params);
  const local = LOCAL_PARAMS.some((k) => p[k] !== 0);
  if (local && !size) throw new Error("texture, clarity and dehaze need the image size: applyAdjustments(data, params, {width, height})");
  let j0 = 0;
  let j1 = rgba.length >> 2;
  if (rows) {
    const [y0, y1] = rows;
    if (!size || !Number.isInteger(y0) || !Number.isInteger(y1) || y0 < 0 || y1 < y0 || y1 * size.width * 4 > rgba.length) {
      throw new Error("rows must be [y0, y1] inside the image, with its size");
    }
    j0 = y0 * size.width;
    j1 = y1 * size.width;
  }
  const n = (j1 - j0) * 4;
  out = out && out.length === n ? out : new Uint8ClampedArray(n);
  const luts = buildChannelLuts(p, 256);
  const sat = p.saturation / 100;
  const vib = p.vibrance / 100;
  const colour = sat !== 0 || vib !== 0;
  if (local || colour) {
    // Stage 1 alone stays on the 8-bit tables below (exact, and no faster in the kernel).
    loadKernel();
    if (simd && simdWanted) {
      const maps = local ? localMaps(rgba, size.width, size.height, p, [j0 / size.width, j1 / size.width]) : {};
      const flags = (maps.texture ? 1 : 0) | (maps.clarity ? 2 : 0) | (maps.haze ? 4 : 0) | (colour ? 8 : 0);
      const kc = CLARITY_GAIN * p.clarity / 100;
      if (simdRender(rgba, out, j0, j1, luts.map((lut) => lut.map((v) => v * 255)), maps, flags,
        TEXTURE_GAIN * p.texture / 100 * 255, (4 * kc) / 255, DEHAZE_STRENGTH * p.dehaze / 100, 1 + sat, vib / (255 * 255))) {
        return out;
      }
    }
  }
  const s = sourceWords(rgba);
  const direct = wordView(out);
  const d = direct || new Uint32Array(n >> 2);
  if (!local && sat === 0 && vib === 0) {
    const [tr, tg, tb] = luts.map((lut) => Uint8ClampedArray.from(lut, clamp01x255));
    tableKernel(s, d, j0, j1, tr, tg, tb);
  } else {
    const [lr, lg, lb] = luts.map((lut) => lut.map((v) => v * 255));
    const a = 1 + sat;
    const vk = vib / (255 * 255);
    if (!local) {
      // The neighbourhood maps are neither made nor read when texture, clarity and dehaze are 0.
      colourKernel(s, d, j0, j1, lr, lg, lb, a, vk);
    } else {
      const maps = localMaps(rgba, size.width, size.height, p, [j0 / size.width, j1 / size.width]);
      localKernel(s, d, j0, j1, lr, lg, lb, maps.texture || null, maps.clarity || null, maps.haze || null,
        TEXTURE_GAIN * p.texture / 100, CLARITY_GAIN * p.clarity / 100, DEHAZE_STRENGTH * p.dehaze / 100,
        sat !== 0 || vib !== 0, a, vk);
    }
  }
  if (!direct) out.set(new Uint8ClampedArray((LITTLE_ENDIAN ? d : bswap(d)).buffer));
  return out;
}

export function adjustImageData(imageData, params = {}) {
  const size = { width: imageData.width, height: imageData.height };
  return new ImageData(applyAdjustments(imageData.data, params, size), imageData.width, imageData.height);
}
