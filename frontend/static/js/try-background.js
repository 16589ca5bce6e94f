// /try/background/: put a portrait's person on another photo with the background.replace engine.
// "Find placements" runs the placement search (a job); its candidates become thumbnails and its
// score surface (the grid the search scored, sent in the job's info) lets a drag re-score live in the
// page. Letting go renders that placement at full resolution (a job with placement {x, y, scale}).
import { api, el, toast, upload } from "./api.js";
import { outputUrl, runJob } from "./jobs.js";
import { blurSlidersOnRelease, compareControl, downloadName, revealStage, sentence, serverWatch, setDownload, sizeStage, zoomPan } from "./try-common.js";
import { tooLarge } from "./upload-limit.js";

const root = document.getElementById("bgr");
const $ = (id) => document.getElementById(id);
const canvas = $("canvas"), wrap = $("canvas-wrap"), box = $("box"), busy = $("busy");
const imgBefore = $("img-before"), imgResult = $("img-result"), live = $("live"), hints = $("hints");
const TERM_NAMES = { scale: "Size for the depth", people: "Size next to other people", support: "Standing on the ground",
  overlap: "Keeps the scene visible", framing: "Framing", lighting: "Light and colour" };

let photos = [];
let person = null, background = null; // PhotoSerializer objects
let search = null;     // {info, sprite, personBox}: the last placement search
let current = null;    // {x, y, scale}: placement in background pixels
let baseScale = 1;     // the size slider is relative to this
let rendered = null;   // placement key of the result on show
let renderSeq = 0;

const key = (p) => `${p.x.toFixed(1)},${p.y.toFixed(1)},${p.scale.toFixed(5)},${$("harmonize").checked}`;
const setState = (s) => { root.dataset.state = s; };

// ---------------------------------------------------------------- choosing photos
function thumb(p, slot) {
  const b = el("button", { class: "bgr-thumb", type: "button", role: "option", title: p.original_name || `Photo ${p.id}`,
    "data-photo-id": p.id, "data-slot": slot },
  el("img", { src: p.urls.display, alt: p.original_name || `Photo ${p.id}`, loading: "lazy", draggable: "false" }));
  b.addEventListener("click", () => choose(slot, p));
  return b;
}

function drawStrips() {
  for (const slot of ["person", "background"]) {
    const chosen = slot === "person" ? person : background;
    $(`strip-${slot}`).replaceChildren(...(photos.length ? photos.map((p) => {
      const t = thumb(p, slot);
      t.classList.toggle("selected", chosen?.id === p.id);
      t.setAttribute("aria-selected", String(chosen?.id === p.id));
      return t;
    }) : [el("p", { class: "muted small", text: "The library is empty." })]));
  }
}

async function loadPhotos() {
  try {
    const page = await api("/api/photos/?page_size=60");
    photos = page.results.filter((p) => !p.original_name?.startsWith("composite-"));
    drawStrips();
  } catch (error) { toast(error.message, "error"); }
}

function choose(slot, p) {
  if (slot === "person") person = p; else background = p;
  search = null; current = null; rendered = null;
  $("results").hidden = true; $("download").hidden = true; $("status").textContent = "";
  root.dataset.resultUrl = ""; setState("choosing");
  drawStrips();
  $("btn-find").disabled = !(person && background);
  if (background) {
    $("bgr-empty").hidden = true; canvas.hidden = false;
    imgBefore.src = background.urls.display; imgResult.removeAttribute("src");
    box.hidden = true; live.hidden = true; hints.hidden = true;
    $("bgr-title").textContent = `${person ? (person.original_name || `Photo ${person.id}`) : "…"} on ${background.original_name || `Photo ${background.id}`}`;
    layout(); zoom.reset();
  }
}

function setupUpload() {
  const input = $("upload"); if (!input) return;
  input.addEventListener("change", async () => {
    const file = input.files[0]; if (!file) return;
    const refusal = tooLarge(file), note = $("upload-error");
    note.hidden = !refusal; note.textContent = refusal || "";
    if (refusal) { toast(refusal, "error"); input.value = ""; return; } // refused before a byte is sent
    const form = new FormData(); form.append("file", file);
    $("status").textContent = "Uploading…";
    try {
      const p = await upload("/api/photos/", form);
      photos.unshift(p);
      choose(person ? "background" : "person", p);
      $("status").textContent = "";
    } catch (error) { const message = sentence(error, "upload the photo"); toast(message, "error"); $("status").textContent = message; }
    input.value = "";
  });
}

// ---------------------------------------------------------------- geometry
function layout() {
  if (!background || canvas.hidden) return;
  sizeStage(wrap, background.width, background.height);
  const W = wrap.clientWidth - 32, H = wrap.clientHeight - 32;
  const s = Math.min(W / background.width, H / background.height);
  canvas.style.width = `${Math.round(background.width * s)}px`;
  canvas.style.height = `${Math.round(background.height * s)}px`;
  for (const c of [live, hints]) { c.width = Math.round(background.width * s); c.height = Math.round(background.height * s); }
  drawBox(); drawHints();
  if (!live.hidden) drawLive();
  zoom?.apply();
}

function boxOf(p) {
  const [x0, y0, x1, y1] = search.personBox;
  return { x: p.x, y: p.y, w: (x1 - x0) * p.scale, h: (y1 - y0) * p.scale };
}

function drawBox() {
  if (!current || !search) { box.hidden = true; return; }
  const b = boxOf(current);
  box.hidden = false;
  box.style.left = `${(100 * b.x) / background.width}%`;
  box.style.top = `${(100 * b.y) / background.height}%`;
  box.style.width = `${(100 * b.w) / background.width}%`;
  box.style.height = `${(100 * b.h) / background.height}%`;
}

// ---------------------------------------------------------------- the score surface (live re-scoring)
function decodeSurface(s) {
  const raw = atob(s.data);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return { ...s, bytes };
}

function fractional(axis, v, log = false) {
  const f = (a) => (log ? Math.log(a) : a);
  const x = f(v);
  if (x <= f(axis[0])) return [0, 0, 0];
  const last = axis.length - 1;
  if (x >= f(axis[last])) return [last, last, 0];
  let i = 0; while (i < last - 1 && f(axis[i + 1]) < x) i += 1;
  return [i, i + 1, (x - f(axis[i])) / (f(axis[i + 1]) - f(axis[i]))];
}

function surfaceScores(b) {
  const s = search.surface; if (!s) return null;
  const [nT, nH, nY, nX] = s.shape;
  const [h0, h1, th] = fractional(s.heights, b.h, true);
  const [y0, y1, ty] = fractional(s.bottoms, b.y + b.h);
  const [x0, x1, tx] = fractional(s.centres, b.x + b.w / 2);
  const at = (t, hi, yi, xi) => s.bytes[((t * nH + hi) * nY + yi) * nX + xi] / 255;
  const out = {};
  for (let t = 0; t < nT; t += 1) {
    const lerp = (a, c, w) => a + (c - a) * w;
    const plane = (hi) => lerp(lerp(at(t, hi, y0, x0), at(t, hi, y0, x1), tx), lerp(at(t, hi, y1, x0), at(t, hi, y1, x1), tx), ty);
    out[s.terms[t]] = lerp(plane(h0), plane(h1), th);
  }
  return out;
}

function showTerms(terms, where) {
  $("score-where").textContent = where;
  const rows = [["total", "Overall"], ...Object.entries(TERM_NAMES)].filter(([k]) => terms[k] !== null && terms[k] !== undefined);
  $("terms").replaceChildren(...rows.map(([k, label]) => {
    const v = Math.max(0, Math.min(1, terms[k]));
    return el("div", { class: `bgr-term${k === "total" ? " total" : ""}`, "data-term": k },
      el("span", { class: "bgr-term-name", text: label }),
      el("span", { class: "bgr-bar" }, el("span", { style: `width:${Math.round(v * 100)}%;background:${barColour(v)}` })),
      el("span", { class: "bgr-term-value", text: v.toFixed(2) }));
  }));
  $("box-score").textContent = terms.total !== undefined ? `${Math.round(terms.total * 100)}` : "";
}

const barColour = (v) => `hsl(${Math.round(v * 120)}, 55%, 45%)`;

function drawHints() {
  const ctx = hints.getContext("2d");
  ctx.clearRect(0, 0, hints.width, hints.height);
  if (hints.hidden || !search?.surface || !current) return;
  const s = search.surface, [, nH, nY, nX] = s.shape;
  const [hi] = fractional(s.heights, boxOf(current).h, true);
  const k = hints.width / background.width;
  for (let yi = 0; yi < nY; yi += 1) {
    for (let xi = 0; xi < nX; xi += 1) {
      const v = s.bytes[(hi * nY + yi) * nX + xi] / 255;
      if (s.bottoms[yi] > background.height) continue;
      ctx.fillStyle = `rgba(${Math.round(255 * (1 - v))}, ${Math.round(200 * v + 40)}, 90, ${0.3 + 0.65 * v})`;
      ctx.beginPath(); ctx.arc(s.centres[xi] * k, s.bottoms[yi] * k, 2 + 6 * v, 0, 2 * Math.PI); ctx.fill();
    }
  }
}

// ---------------------------------------------------------------- the cut-out sprite (from the first result)
function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image(); img.onload = () => resolve(img); img.onerror = () => reject(new Error(`Could not load ${url}`));
    img.src = url;
  });
}

async function makeSprite(resultUrl, maskUrl, b) {
  const [img, mask] = await Promise.all([loadImage(resultUrl), loadImage(maskUrl)]);
  const k = Math.min(1, 1200 / Math.max(b.w, b.h));
  const w = Math.max(1, Math.round(b.w * k)), h = Math.max(1, Math.round(b.h * k));
  const sx = img.naturalWidth / background.width; // results come at the background's full size
  const draw = (source) => {
    const c = document.createElement("canvas"); c.width = w; c.height = h;
    c.getContext("2d").drawImage(source, b.x * sx, b.y * sx, b.w * sx, b.h * sx, 0, 0, w, h);
    return c;
  };
  const sprite = draw(img), alpha = draw(mask);
  const px = sprite.getContext("2d").getImageData(0, 0, w, h), ma = alpha.getContext("2d").getImageData(0, 0, w, h);
  for (let i = 0; i < px.data.length; i += 4) px.data[i + 3] = ma.data[i];
  sprite.getContext("2d").putImageData(px, 0, 0);
  return { canvas: sprite, box: b };
}

function drawSprite(ctx, b, k) {
  // the sprite was cut at its own placement; a partly hidden person is drawn where they were visible
  if (!search.sprite) return;
  const s = search.sprite, scale = b.w / s.box.w;
  ctx.drawImage(s.canvas, b.x * k, b.y * k, s.box.w * scale * k, s.box.h * scale * k);
}

function drawLive() {
  const ctx = live.getContext("2d");
  const k = live.width / background.width;
  ctx.drawImage(imgBefore, 0, 0, live.width, live.height);
  drawSprite(ctx, boxOf(current), k);
}

function candidateThumb(c, i) {
  const w = 150, h = Math.round((150 * background.height) / background.width);
  const cv = el("canvas", { width: w, height: h });
  const ctx = cv.getContext("2d");
  ctx.drawImage(imgBefore, 0, 0, w, h);
  drawSprite(ctx, { x: c.x, y: c.y, w: c.box[2] - c.box[0], h: c.box[3] - c.box[1] }, w / background.width);
  const b = el("button", { class: "bgr-cand", type: "button", "data-rank": c.rank, title: `Placement ${c.rank}: score ${c.score.toFixed(2)}` },
    cv, el("span", { class: "bgr-cand-label" }, el("strong", { text: i === 0 ? "Best" : `#${c.rank}` }), ` ${Math.round(c.score * 100)}`));
  b.addEventListener("click", () => { place({ x: c.x, y: c.y, scale: c.scale }, true); showTerms({ total: c.score, ...c.terms }, `placement #${c.rank}`); render(); });
  return b;
}

function markCandidates() {
  for (const b of $("candidates").children) {
    const c = search.info.candidates.find((k) => String(k.rank) === b.dataset.rank);
    b.classList.toggle("selected", !!c && Math.abs(c.x - current.x) < 1 && Math.abs(c.y - current.y) < 1 && Math.abs(c.scale / current.scale - 1) < 1e-3);
  }
}

// ---------------------------------------------------------------- placing and rendering
function place(p, newBase = false) {
  current = { ...p };
  if (newBase) { baseScale = p.scale; $("size").value = "1"; $("out-size").textContent = "1.00×"; }
  drawBox(); drawHints(); markCandidates();
}

function showResult(job, p) {
  const url = outputUrl(job, "image");
  // the live composite stays until the new render has arrived (no flash of the previous one)
  imgResult.onload = () => { if (!drag && imgResult.src.endsWith(url)) { live.hidden = true; imgResult.hidden = false; root.dataset.shown = url; } };
  imgResult.src = url;
  root.dataset.resultUrl = url; root.dataset.job = String(job.id);
  rendered = key(p);
  const scene = (background.original_name || "background").replace(/\.[^.]+$/, "");
  setDownload($("download"), url, downloadName(person.original_name || "person", `on-${scene}`, url));
}

async function find() {
  if (!person || !background) return;
  setState("searching"); busy.hidden = false; $("btn-find").disabled = true;
  $("status").textContent = "Finding where the person fits…";
  const t0 = performance.now();
  try {
    const job = await runJob({ engine: "background.replace", inputs: { photo: person.id, background: background.id },
      params: { placement: "auto", candidates: 5, harmonize: $("harmonize").checked } },
    { onProgress: (f) => { $("status").textContent = `Finding where the person fits… ${Math.round(f * 100)}%`; } });
    const info = job.info;
    const best = info.placement;
    search = { info, surface: info.surface ? decodeSurface(info.surface) : null, personBox: info.person.box, sprite: null };
    search.sprite = await makeSprite(outputUrl(job, "image"), outputUrl(job, "mask"),
      { x: best.box[0], y: best.box[1], w: best.box[2] - best.box[0], h: best.box[3] - best.box[1] });
    place({ x: best.x, y: best.y, scale: best.scale }, true);
    showResult(job, current);
    $("candidates").replaceChildren(...info.candidates.map(candidateThumb));
    markCandidates();
    showTerms({ total: best.score, ...best.terms }, "best placement");
    $("results").hidden = false;
    const hz = info.background.horizon;
    $("status").textContent = `Horizon at ${Math.round(hz.y)} px (${hz.source}); ${info.background.faces.length} face(s) in the scene.`;
    $("latency").textContent = `${Math.round(performance.now() - t0)} ms · engine ${Math.round(info.ms.total)} ms`;
    setState("placed"); revealStage(wrap);
  } catch (error) {
    server.failed(error, "finding placements");
    const message = sentence(error, "find placements"); toast(message, "error"); $("status").textContent = message; setState("choosing");
  } finally { busy.hidden = true; $("btn-find").disabled = false; }
}

async function render() {
  if (!search || !current) return;
  const p = { ...current };
  if (rendered === key(p)) return;
  const seq = ++renderSeq;
  setState("rendering"); busy.hidden = false;
  const t0 = performance.now();
  try {
    const job = await runJob({ engine: "background.replace", inputs: { photo: person.id, background: background.id },
      params: { placement: { x: p.x, y: p.y, scale: p.scale }, harmonize: $("harmonize").checked } });
    if (seq !== renderSeq) return; // a newer placement is on its way
    showResult(job, p);
    const c = job.info.candidates[0];
    showTerms({ total: c.score, ...c.terms }, "this placement");
    $("latency").textContent = `${Math.round(performance.now() - t0)} ms · engine ${Math.round(job.info.ms.total)} ms`;
    setState("placed");
  } catch (error) {
    if (seq === renderSeq) { server.failed(error, "rendering this placement"); const message = sentence(error, "render this placement"); toast(message, "error"); $("status").textContent = message; setState("placed"); }
  } finally { if (seq === renderSeq) busy.hidden = true; }
}

function liveUpdate() {
  live.hidden = false; imgResult.hidden = true;
  drawLive(); drawBox(); drawHints(); markCandidates();
  const scores = surfaceScores(boxOf(current));
  if (scores) showTerms(scores, "while you drag");
}

// drag to move
let drag = null;
box.addEventListener("pointerdown", (e) => {
  if (!current || !e.isPrimary) return;
  e.preventDefault();
  box.setPointerCapture(e.pointerId);
  drag = { x: e.clientX, y: e.clientY, start: { ...current } };
  box.classList.add("dragging");
});
box.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const r = canvas.getBoundingClientRect(), k = background.width / r.width;
  current = { ...drag.start, x: drag.start.x + (e.clientX - drag.x) * k, y: drag.start.y + (e.clientY - drag.y) * k };
  liveUpdate();
});
const endDrag = () => { if (!drag) return; drag = null; box.classList.remove("dragging"); render(); };
box.addEventListener("pointerup", endDrag);
box.addEventListener("pointercancel", endDrag);

// resize around the feet (slider or wheel)
function resize(factor) {
  if (!current) return;
  const b = boxOf(current);
  const scale = Math.max(baseScale * 0.4, Math.min(baseScale * 1.8, current.scale * factor));
  const f = scale / current.scale;
  current = { x: b.x + b.w / 2 - (b.w * f) / 2, y: b.y + b.h - b.h * f, scale };
  $("size").value = String(scale / baseScale); $("out-size").textContent = `${(scale / baseScale).toFixed(2)}×`;
  liveUpdate();
}
let resizeTimer = null;
const renderSoon = () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(render, 450); };
$("size").addEventListener("input", () => { resize((Number($("size").value) * baseScale) / current.scale); renderSoon(); });
// the wheel over the person resizes them; anywhere else it zooms the view (zoomPan)
box.addEventListener("wheel", (e) => { if (!current) return; e.preventDefault(); resize(e.deltaY < 0 ? 1.04 : 1 / 1.04); renderSoon(); }, { passive: false });

$("btn-find").addEventListener("click", find);
$("harmonize").addEventListener("change", () => { if (search) render(); });
$("view-hints").addEventListener("click", () => {
  hints.hidden = !hints.hidden; $("view-hints").classList.toggle("active", !hints.hidden); drawHints();
});
$("view-result").addEventListener("click", () => { live.hidden = true; imgResult.hidden = false; });
window.addEventListener("resize", layout);
blurSlidersOnRelease(root);
const zoom = zoomPan({ wrap, canvas, imageWidth: () => background?.width, onGesture: () => { if (drag) endDrag(); } });
const server = serverWatch(wrap);
compareControl({ canvas, group: $("compare"), wrap });
imgBefore.addEventListener("load", layout);

setupUpload();
loadPhotos().then(() => {
  const q = new URLSearchParams(location.search);
  const find_ = (id) => photos.find((p) => p.id === Number(id));
  if (q.get("person") && find_(q.get("person"))) choose("person", find_(q.get("person")));
  if (q.get("background") && find_(q.get("background"))) choose("background", find_(q.get("background")));
});
