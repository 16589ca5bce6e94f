// A LivePreview worker (annotation-common.js): keeps one photo and renders its row band of each
// frame with previewPixels, the page's own code (no second copy of the formulas).
import { previewPixels } from "./annotation-common.js";
import { loadKernel } from "./adjust-preview.js";

// The SIMD kernel (adjust-preview.js) is loaded before the first frame, so every band of every
// frame comes from the same loops (the JS ones only where the kernel cannot load).
let kernel = loadKernel().then(() => { kernel = null; });

let photo = null; // {id, source: {data, width, height}, fg, rows}

self.onmessage = async ({ data: m }) => {
  try {
    if (kernel && m.type === "frame") await kernel; // only until it has loaded (or failed to)
    if (m.type === "source") {
      photo = { id: m.id, source: { data: m.data, width: m.width, height: m.height }, fg: m.fg, rows: m.rows };
      return;
    }
    if (m.type !== "frame") return;
    if (!photo || photo.id !== m.id) { self.postMessage({ type: "band", id: m.id, seq: m.seq, stale: true }); return; }
    const [y0, y1] = photo.rows;
    const n = (y1 - y0) * photo.source.width * 4;
    const out = m.buffer && m.buffer.byteLength === n ? new Uint8ClampedArray(m.buffer) : new Uint8ClampedArray(n);
    const t0 = performance.now();
    previewPixels(photo.source, m.params, photo.fg, out, photo.rows);
    self.postMessage({ type: "band", id: m.id, seq: m.seq, buffer: out.buffer, ms: performance.now() - t0 }, [out.buffer]);
  } catch (error) {
    self.postMessage({ type: "error", message: String(error?.message || error) });
  }
};
