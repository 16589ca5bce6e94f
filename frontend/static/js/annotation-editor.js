// The expert's editor: a photo group as a filmstrip, Basic-panel sliders with exact values, an
// instant browser preview (adjust-preview.js, the server's renderer re-implemented), histogram with
// clipping, 1:1 zoom and pan, before/after, undo/redo over the server's edit history, autosave,
// copy/paste and sync to selected photos, group tone matching, a live M_GLC meter, the human mask
// refined by clicks, review issues, QA on submit, and a full-size render on demand.
import { api, socket, toast, el } from "./api.js";
import {
  LABELS, LivePreview, SLIDER_GROUPS, STATE_LABELS, drawHistogram, formatValue, glc, glcOutlier, histogram,
  loadMask, loadPixels, meanLab, previewPixels,
} from "./annotation-common.js";
import { regionThumb } from "./annotation-regions.js";
import { ToneCurve } from "./tone-curve.js";

const root = document.getElementById("ann-editor");
const A = `/api/annotation/assignments/${root.dataset.assignment}`;
const $ = (id) => document.getElementById(id);
const canvas = $("main-canvas");
const ctx = canvas.getContext("2d", { willReadFrequently: true });
const maskCanvas = $("mask-canvas");
const THUMB_SIDE = 200;
const SAVE_DELAY_MS = 400;

const timings = (window.__annotation = { frames: [], saves: [], ready: false });
let detail = null;
let sliders = [];            // [{name, min, max}]
let current = 0;             // index into detail.photos
let params = {};             // parameters of the current photo as shown
let main = null;             // {source: ImageData, fg: Uint8Array|null, photo}
const thumbs = new Map();    // photo id → {source, fg, canvas, lab}
const histories = new Map(); // photo id → {list: [params], cursor}
const selected = new Set();
let clipboard = null;
let showBefore = false;
let zoom = "fit";
let pan = { x: 0, y: 0 };
let frame = 0;               // pending animation frame
let saveTimer = null;
let saving = Promise.resolve();
let dirtyPhoto = null;
let showMask = false;
let refining = false;
let fullJob = null;
let preview = null;          // suggested params being previewed
let curve = null;            // the tone-curve widget
const detail1to1 = { timer: 0, request: 0, shown: null, loading: null }; // the 1:1 view's original-pixel crop
const DETAIL_DELAY_MS = 200;
const DETAIL_MARGIN = 160;   // original pixels fetched beyond the visible edges, so small pans stay sharp
let glcTimer = 0;

const editable = () => detail?.editable;
const photo = () => detail.photos[current];
const isHarmonization = () => detail.kind === "harmonization";
const clone = (p) => JSON.parse(JSON.stringify(p));
const sameParams = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// --- sliders -------------------------------------------------------------------------------------
function buildSliders() {
  const form = $("sliders");
  const available = new Map(detail.sliders.map((s) => [s.name, s]));
  for (const [title, names] of SLIDER_GROUPS) {
    const present = names.filter((n) => available.has(n));
    if (!present.length) continue;
    form.append(el("h3", { class: "group-title", text: title }));
    for (const name of present) {
      const s = available.get(name);
      sliders.push(s);
      const step = name === "exposure" ? 0.05 : 1;
      const range = el("input", { type: "range", name, min: s.min, max: s.max, step, value: 0, "aria-label": LABELS[name] });
      const number = el("input", { type: "number", class: "exact", "data-for": name, min: s.min, max: s.max,
        step: name === "exposure" ? 0.01 : 1, value: 0, "aria-label": `${LABELS[name]} value` });
      const label = el("label", { class: "slider-name", title: `${s.description} Double-click to reset.`, text: LABELS[name] });
      const row = el("div", { class: `ann-slider${name === "temperature" ? " temp" : name === "tint" ? " tint" : ""}`, "data-name": name },
        label, number, range);
      range.addEventListener("input", () => setValue(name, Number(range.value), { live: true }));
      range.addEventListener("change", () => commit());
      number.addEventListener("change", () => { setValue(name, clampValue(s, Number(number.value))); commit(); });
      for (const target of [label, range]) target.addEventListener("dblclick", () => { setValue(name, 0); commit(); });
      form.append(row);
    }
  }
  curve = new ToneCurve($("tone-curve"), {
    onInput: (points) => { params.tone_curve = points; preview = null; scheduleRender(); },
    onChange: (points) => { params.tone_curve = points; scheduleRender(); commit(); },
  });
}

const clampValue = (s, v) => (Number.isFinite(v) ? Math.min(s.max, Math.max(s.min, v)) : 0);

function setValue(name, value, { live = false } = {}) {
  params[name] = value;
  syncInputs(live ? name : null);
  scheduleRender();
}

function syncInputs(skipRange = null) {
  for (const s of sliders) {
    const v = Number(params[s.name] ?? 0);
    const row = document.querySelector(`.ann-slider[data-name="${s.name}"]`);
    const range = row.querySelector("input[type=range]");
    if (s.name !== skipRange) range.value = v;
    const number = row.querySelector("input.exact");
    if (document.activeElement !== number) number.value = s.name === "exposure" ? v.toFixed(2) : Math.round(v);
    row.classList.toggle("changed", v !== 0);
    row.title = formatValue(s.name, v);
  }
  curve?.setValue(params.tone_curve || []);
}

function setEnabled() {
  const on = editable();
  for (const input of $("sliders").elements) input.disabled = !on;
  curve?.setEnabled(on);
  for (const id of ["sync", "match", "reset-all", "submit", "mask-refine"]) $(id).disabled = !on;
  $("paste").disabled = !on || !clipboard;
  const banner = $("readonly-banner");
  banner.hidden = on;
  if (!on) {
    banner.textContent = detail.state === "in_review" ? "Submitted — waiting for the reviewer. Edits are closed."
      : detail.state === "accepted" || detail.state === "frozen" ? `${STATE_LABELS[detail.state]}: this work is done.`
        : "Read only.";
  }
}

// --- rendering: one frame per animation frame, always with the newest parameters ----------------
function scheduleRender() {
  if (frame) return; // a frame is already queued: it will pick up the newest params (older ones are dropped)
  frame = requestAnimationFrame(renderNow);
}

// The frame itself is drawn by LivePreview (workers, newest parameters only); the returned promise
// settles once it is on the canvas (or was superseded).
let live = null;
function renderNow() {
  frame = 0;
  if (!main) return Promise.resolve();
  live ??= new LivePreview(ctx);
  if (live.source !== main.source) live.setSource(main.source, main.fg);
  const t0 = performance.now();
  const shown = preview ? { ...params, ...preview } : params;
  if (showBefore) { live.drawSource(); afterFrame(t0, shown); return Promise.resolve(); }
  return live.render(shown).then((drawn) => { if (drawn) afterFrame(t0, shown); });
}

function afterFrame(t0, shown) {
  timings.frames.push(performance.now() - t0);
  if (timings.frames.length > 500) timings.frames.shift();
  if (zoom !== "fit") scheduleDetail();
  // The histogram, the thumbnail and the group meter follow once the slider pauses (80 ms).
  clearTimeout(glcTimer);
  glcTimer = setTimeout(() => { updateHistogram(live.pixels()); renderThumb(photo().id, shown); updateGlc(); }, 80);
}

function updateHistogram(out) {
  const hist = histogram(out, 4);
  drawHistogram($("histogram"), hist);
  curve?.setHistogram(hist.bins[3]);
  $("clip-white").classList.toggle("on", hist.white > 0.001);
  $("clip-black").classList.toggle("on", hist.black > 0.001);
  $("clip-white").title = `Highlights clipped: ${(hist.white * 100).toFixed(2)} %`;
  $("clip-black").title = `Shadows clipped: ${(hist.black * 100).toFixed(2)} %`;
}

function renderThumb(id, p) {
  const t = thumbs.get(id);
  if (!t?.source) return; // not loaded yet: loadThumbs renders it when its pixels arrive
  const out = previewPixels(t.source, p, t.fg);
  t.canvas.getContext("2d").putImageData(new ImageData(out, t.source.width, t.source.height), 0, 0);
  t.lab = meanLab(out, 2);
}

function updateGlc() {
  const group = detail.photos.filter((p) => thumbs.get(p.id)?.lab);
  if (group.length < 2) return;
  const means = group.map((p) => thumbs.get(p.id).lab);
  const value = glc(means);
  const limit = Number(detail.qa.max_glc);
  $("glc-value").textContent = value.toFixed(1);
  $("glc-bar").style.width = `${Math.min(100, (value / limit) * 100)}%`;
  $("glc-meter").dataset.level = value > limit ? "over" : value > 0.6 * limit ? "near" : "ok";
  const outlier = glcOutlier(means);
  document.querySelectorAll(".film").forEach((f) => f.classList.remove("outlier"));
  if (outlier !== null && value > 0.3 * limit) {
    const id = group[outlier].id;
    document.querySelector(`.film[data-id="${id}"]`)?.classList.add("outlier");
    $("glc-note").textContent = `Outlier: ${detail.photos.find((p) => p.id === id).original_name} · QA limit ${limit}`;
  } else {
    $("glc-note").textContent = `Consistent group · QA limit ${limit}`;
  }
  root.dataset.glc = value.toFixed(3);
}

// --- zoom and pan ----------------------------------------------------------------------------------
// Fit shows the display proxy; 1:1 sizes the box so one pixel of the ORIGINAL is one device pixel:
// the proxy, stretched, stays underneath while a crop of the original rendered by the server (the
// visible region plus a margin) is laid over it.
function layout() {
  if (!main) return;
  const vp = $("viewport").getBoundingClientRect();
  const p = photo();
  const [w, h] = zoom === "fit" ? [main.source.width, main.source.height] : [p.width, p.height];
  const scale = zoom === "fit" ? Math.min((vp.width - 24) / w, (vp.height - 24) / h) : 1 / (window.devicePixelRatio || 1);
  const box = $("canvas-box");
  box.style.width = `${w * scale}px`; box.style.height = `${h * scale}px`;
  if (zoom === "fit") pan = { x: 0, y: 0 };
  clampPan();
  box.style.transform = `translate(${pan.x}px, ${pan.y}px)`;
  $("viewport").classList.toggle("zoomed", zoom !== "fit");
  $("zoom-fit").classList.toggle("active", zoom === "fit");
  $("zoom-100").classList.toggle("active", zoom !== "fit");
  if (zoom === "fit") hideDetail(); else scheduleDetail();
}

// The box is centred in the viewport; a pan never shows past the photo's edges.
function clampPan() {
  const vp = $("viewport").getBoundingClientRect();
  const box = $("canvas-box");
  const limitX = Math.max(0, (parseFloat(box.style.width) - vp.width) / 2);
  const limitY = Math.max(0, (parseFloat(box.style.height) - vp.height) / 2);
  pan = { x: Math.max(-limitX, Math.min(limitX, pan.x)), y: Math.max(-limitY, Math.min(limitY, pan.y)) };
}

// Zoom to 1:1 keeping the point under (clientX, clientY) where it is (the centre without a point).
function zoomTo(mode, at = null) {
  const rect = canvas.getBoundingClientRect();
  const fx = at ? (at.clientX - rect.left) / rect.width : 0.5;
  const fy = at ? (at.clientY - rect.top) / rect.height : 0.5;
  zoom = mode;
  pan = { x: 0, y: 0 };
  layout();
  if (mode !== "fit" && at) {
    const vp = $("viewport").getBoundingClientRect();
    const box = $("canvas-box");
    const w = parseFloat(box.style.width); const h = parseFloat(box.style.height);
    pan = { x: at.clientX - vp.left - (vp.width - w) / 2 - fx * w, y: at.clientY - vp.top - (vp.height - h) / 2 - fy * h };
    layout();
  }
}

// The region of the original visible now, in original pixels, widened by DETAIL_MARGIN.
function visibleBox() {
  const p = photo();
  const vp = $("viewport").getBoundingClientRect();
  const rect = $("canvas-box").getBoundingClientRect();
  const sx = p.width / rect.width; const sy = p.height / rect.height;
  const x0 = Math.max(0, Math.floor((vp.left - rect.left) * sx) - DETAIL_MARGIN);
  const y0 = Math.max(0, Math.floor((vp.top - rect.top) * sy) - DETAIL_MARGIN);
  const x1 = Math.min(p.width, Math.ceil((vp.right - rect.left) * sx) + DETAIL_MARGIN);
  const y1 = Math.min(p.height, Math.ceil((vp.bottom - rect.top) * sy) + DETAIL_MARGIN);
  return x1 > x0 && y1 > y0 ? [x0, y0, x1 - x0, y1 - y0] : null;
}

const shownParams = () => (showBefore ? {} : preview ? { ...params, ...preview } : params);
const contains = (outer, inner) => outer && inner[0] >= outer[0] && inner[1] >= outer[1]
  && inner[0] + inner[2] <= outer[0] + outer[2] && inner[1] + inner[3] <= outer[1] + outer[3];

function hideDetail() {
  clearTimeout(detail1to1.timer);
  detail1to1.request++;
  detail1to1.shown = null;
  $("detail-canvas").hidden = true;
  $("detail-status").hidden = true;
  delete root.dataset.detail;
}

// Called after every frame and pan at 1:1: a crop for other parameters is stale at once (the proxy
// underneath shows the new look meanwhile); one for the same parameters stays while it still covers
// the view. The newest request wins; late answers are dropped.
function scheduleDetail() {
  if (zoom === "fit" || !main) return;
  const key = JSON.stringify([photo().id, shownParams()]);
  const shown = detail1to1.shown;
  if (shown && shown.key !== key) {
    $("detail-canvas").hidden = true;
    detail1to1.shown = null;
    root.dataset.detail = "stale";
  }
  const wanted = visibleBox();
  if (!wanted || (detail1to1.shown && contains(detail1to1.shown.box, wantedCore(wanted)))) return;
  if (detail1to1.loading === JSON.stringify([key, wanted])) return;
  clearTimeout(detail1to1.timer);
  detail1to1.timer = setTimeout(() => fetchDetail(key, wanted), DETAIL_DELAY_MS);
}

// The visible region without the margin (what must be covered for the crop to count as current).
function wantedCore(b) {
  const p = photo();
  const x0 = b[0] === 0 ? 0 : b[0] + DETAIL_MARGIN; const y0 = b[1] === 0 ? 0 : b[1] + DETAIL_MARGIN;
  const x1 = b[0] + b[2] === p.width ? p.width : b[0] + b[2] - DETAIL_MARGIN;
  const y1 = b[1] + b[3] === p.height ? p.height : b[1] + b[3] - DETAIL_MARGIN;
  return [x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0)];
}

async function fetchDetail(key, box) {
  const id = ++detail1to1.request;
  const p = photo();
  const body = { params: shownParams(), box };
  detail1to1.loading = JSON.stringify([key, box]);
  const status = $("detail-status");
  status.hidden = false; status.textContent = "Loading original pixels…";
  root.dataset.detail = "loading";
  try {
    const response = await fetch(`${A}/photos/${p.id}/crop`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.detail || `The server answered ${response.status}.`);
    }
    const bitmap = await createImageBitmap(await response.blob());
    if (id !== detail1to1.request || zoom === "fit" || photo() !== p) return; // superseded
    const c = $("detail-canvas");
    c.width = box[2]; c.height = box[3];
    c.getContext("2d").drawImage(bitmap, 0, 0);
    Object.assign(c.style, { left: `${(box[0] / p.width) * 100}%`, top: `${(box[1] / p.height) * 100}%`,
      width: `${(box[2] / p.width) * 100}%`, height: `${(box[3] / p.height) * 100}%` });
    c.hidden = false;
    detail1to1.shown = { key, box };
    status.textContent = "100 % · original pixels";
    root.dataset.detail = "ready";
    root.dataset.detailBox = box.join(",");
  } catch (error) {
    if (id !== detail1to1.request) return;
    status.textContent = `Original pixels unavailable: ${error.message}`;
    root.dataset.detail = "error";
  } finally {
    if (id === detail1to1.request) detail1to1.loading = null;
  }
}

const csrfToken = () => document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";

function setupPan() {
  const vp = $("viewport");
  let drag = null;
  vp.addEventListener("pointerdown", (e) => {
    if (zoom === "fit" || refining) return;
    drag = { x: e.clientX - pan.x, y: e.clientY - pan.y };
    vp.setPointerCapture(e.pointerId);
  });
  vp.addEventListener("pointermove", (e) => {
    if (!drag) return;
    pan = { x: e.clientX - drag.x, y: e.clientY - drag.y };
    clampPan();
    $("canvas-box").style.transform = `translate(${pan.x}px, ${pan.y}px)`;
  });
  vp.addEventListener("pointerup", () => { if (drag) { drag = null; scheduleDetail(); } });
  vp.addEventListener("dblclick", (e) => { if (!refining && e.target === canvas) zoomTo(zoom === "fit" ? "100" : "fit", e); });
}

// --- photos, filmstrip and history -------------------------------------------------------------------
function stateDot(p) {
  return { issue: "Has an open review issue", edited: "Edited", untouched: "Not edited yet" }[p.state];
}

function buildFilmstrip() {
  const strip = $("filmstrip");
  detail.photos.forEach((p, i) => {
    const c = el("canvas", { class: "thumb" });
    const check = el("input", { type: "checkbox", class: "film-select", title: "Select for sync", "aria-label": `Select ${p.original_name}` });
    const item = el("button", { type: "button", class: "film", "data-id": p.id, "data-state": p.state, title: p.original_name },
      c, el("span", { class: "dot", title: stateDot(p) }), check, el("span", { class: "film-name", text: p.original_name || `#${p.id}` }));
    check.addEventListener("click", (e) => { e.stopPropagation(); toggleSelect(p.id, check.checked); });
    item.addEventListener("click", (e) => {
      if (e.ctrlKey || e.metaKey) { toggleSelect(p.id, !selected.has(p.id)); check.checked = selected.has(p.id); return; }
      selectPhoto(i);
    });
    strip.append(item);
    thumbs.set(p.id, { canvas: c, source: null, fg: null, lab: null });
  });
}

function toggleSelect(id, on) {
  if (on) selected.add(id); else selected.delete(id);
  document.querySelector(`.film[data-id="${id}"]`).classList.toggle("selected", on);
  $("sync-count").textContent = selected.size;
}

async function loadThumbs() {
  await Promise.all(detail.photos.map(async (p) => {
    const t = thumbs.get(p.id);
    t.source = await loadPixels(p.urls.working, THUMB_SIDE);
    t.canvas.width = t.source.width; t.canvas.height = t.source.height;
    if (isHarmonization() && p.masks.foreground) t.fg = await loadMask(p.masks.foreground, t.source.width, t.source.height);
    renderThumb(p.id, p.params || {});
  }));
  updateGlc();
}

async function loadHistory(p) {
  if (histories.has(p.id)) return histories.get(p.id);
  const versions = await api(`${A}/photos/${p.id}/history`);
  const list = versions.map((v) => v.params);
  if (!list.length) list.push(clone(p.params || identity()));
  // The history starts at the untouched photo (as Lightroom's starts at the import), so undo can go
  // back past the first saved version, in this session or a later one.
  const untouched = Object.fromEntries(Object.keys(list[0]).map((k) => [k, k === "tone_curve" ? [] : 0]));
  if (!sameParams(list[0], untouched)) list.unshift(untouched);
  const h = { list, cursor: list.length - 1 };
  histories.set(p.id, h);
  return h;
}

const identity = () => ({ ...Object.fromEntries(sliders.map((s) => [s.name, 0])), tone_curve: [] });

async function selectPhoto(i) {
  await flushSave();
  current = i;
  preview = null;
  const p = photo();
  document.querySelectorAll(".film").forEach((f, k) => f.classList.toggle("current", k === i));
  document.querySelector(".film.current")?.scrollIntoView({ block: "nearest", inline: "nearest" });
  const source = await loadPixels(p.urls.display);
  if (photo() !== p) return; // the expert moved on meanwhile
  canvas.width = maskCanvas.width = source.width;
  canvas.height = maskCanvas.height = source.height;
  const fg = isHarmonization() && p.masks.foreground ? await loadMask(p.masks.foreground, source.width, source.height) : null;
  main = { source, fg, photo: p };
  hideDetail();
  const h = await loadHistory(p);
  params = clone(h.list[h.cursor]);
  syncInputs();
  updateUndo();
  layout();
  await renderNow();
  drawMask();
  drawIssues();
  $("xmp-download").href = `${A}/photos/${p.id}/xmp`;
  root.dataset.current = p.id;
}

// --- saving: debounced autosave of the newest parameters; undo/redo walk the server history -------
function commit({ record = true } = {}) {
  if (!editable()) return;
  const p = photo();
  const h = histories.get(p.id);
  if (record && h && !sameParams(h.list[h.cursor], params)) {
    h.list.splice(h.cursor + 1);
    h.list.push(clone(params));
    h.cursor = h.list.length - 1;
  }
  updateUndo();
  dirtyPhoto = p;
  setSaveState("pending", "Unsaved changes…");
  clearTimeout(saveTimer);
  saveTimer = setTimeout(flushSave, SAVE_DELAY_MS);
}

function flushSave() {
  clearTimeout(saveTimer);
  if (!dirtyPhoto) return saving;
  const p = dirtyPhoto; const body = { params: clone(p === photo() ? params : histories.get(p.id).list.at(-1)) };
  dirtyPhoto = null;
  saving = saving.then(async () => {
    setSaveState("saving", "Saving…");
    const t0 = performance.now();
    try {
      const edit = await api(`${A}/photos/${p.id}/params`, { method: "PUT", body });
      timings.saves.push(performance.now() - t0);
      p.params = edit.params; p.version = edit.version;
      if (p.state === "untouched") setPhotoState(p, "edited");
      setSaveState("saved", `Saved · v${edit.version}`);
    } catch (error) {
      setSaveState("error", error.status === 409 ? "Edits are closed" : "Not saved — retrying");
      toast(error.message, "error");
      if (error.status !== 409 && error.status !== 400) { dirtyPhoto = p; saveTimer = setTimeout(flushSave, 3000); }
    }
  });
  return saving;
}

function setSaveState(state, text) {
  const s = $("save-state");
  s.dataset.state = state; s.textContent = text;
}

function setPhotoState(p, state) {
  p.state = state;
  const film = document.querySelector(`.film[data-id="${p.id}"]`);
  if (film) film.dataset.state = state;
}

function updateUndo() {
  const h = main && histories.get(photo().id);
  $("undo").disabled = !editable() || !h || h.cursor <= 0;
  $("redo").disabled = !editable() || !h || h.cursor >= h.list.length - 1;
}

function step(delta) {
  const h = histories.get(photo().id);
  if (!editable() || !h) return;
  const next = h.cursor + delta;
  if (next < 0 || next >= h.list.length) return;
  h.cursor = next;
  params = clone(h.list[next]);
  syncInputs(); scheduleRender(); commit({ record: false });
}

// --- group tools ---------------------------------------------------------------------------------
async function refreshParams(ids) {
  for (const id of ids) {
    const p = detail.photos.find((x) => x.id === id);
    const { params: fresh, version } = await api(`${A}/photos/${id}/params`);
    p.params = fresh; p.version = version;
    setPhotoState(p, p.state === "issue" ? "issue" : "edited");
    const h = histories.get(id);
    if (h && !sameParams(h.list.at(-1), fresh)) { h.list.push(clone(fresh)); h.cursor = h.list.length - 1; }
    renderThumb(id, fresh);
    if (id === photo().id) { params = clone(fresh); syncInputs(); scheduleRender(); updateUndo(); }
  }
  updateGlc();
}

function openSync() {
  if (!selected.size) {
    toast("Select the photos to sync in the filmstrip first (checkbox or Ctrl+click).");
    return;
  }
  const box = $("sync-keys");
  box.replaceChildren();
  for (const [title, names] of SLIDER_GROUPS) {
    const present = names.filter((n) => sliders.some((s) => s.name === n));
    if (!present.length) continue;
    const fieldset = el("fieldset", {}, el("legend", { text: title }));
    for (const name of present) {
      fieldset.append(el("label", {}, el("input", { type: "checkbox", name, checked: "" }), ` ${LABELS[name]}`));
    }
    box.append(fieldset);
  }
  box.append(el("fieldset", {}, el("legend", { text: "Curve" }),
    el("label", {}, el("input", { type: "checkbox", name: "tone_curve", checked: "" }), ` ${LABELS.tone_curve}`)));
  $("sync-count").textContent = selected.size;
  $("sync-dialog").showModal();
}

async function doSync() {
  const keys = [...$("sync-keys").querySelectorAll("input:checked")].map((i) => i.name);
  const targets = [...selected].filter((id) => id !== photo().id);
  if (!keys.length || !targets.length) return;
  await flushSave();
  try {
    await api(`${A}/sync/`, { method: "POST", body: { from: photo().id, photos: targets, keys } });
    await refreshParams(targets);
    toast(`Synced ${keys.length} setting(s) to ${targets.length} photo(s).`);
    root.dataset.synced = String(Number(root.dataset.synced || 0) + 1);
  } catch (error) { toast(error.message, "error"); }
}

async function matchTone() {
  await flushSave();
  $("match").disabled = true;
  try {
    const result = await api(`${A}/match-tone/`, { method: "POST", body: { reference: photo().id, apply: true } });
    await refreshParams(result.photos.map((p) => p.photo));
    toast(`Group tone matched: M_GLC ${result.glc_before.toFixed(1)} → ${result.glc_after.toFixed(1)}.`);
  } catch (error) { toast(error.message, "error"); } finally { $("match").disabled = !editable(); }
}

// --- mask overlay, refined by clicks -----------------------------------------------------------------
async function drawMask() {
  const p = photo();
  // A harmonization expert matches the person to the reference region, so its outline stays on
  // screen even with the mask overlay off (a fill would hide the very pixels being compared).
  const referenceOutline = !showMask && isHarmonization() && Boolean(p.masks.reference);
  maskCanvas.hidden = !showMask && !referenceOutline;
  $("mask-toggle").classList.toggle("active", showMask);
  $("mask-refine").classList.toggle("active", refining);
  $("viewport").classList.toggle("refining", refining);
  root.dataset.referenceOutline = referenceOutline ? "1" : "";
  if (maskCanvas.hidden || !main) return;
  const mctx = maskCanvas.getContext("2d");
  mctx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  const layers = referenceOutline ? [[p.masks.reference, [37, 99, 235]]]
    : isHarmonization() ? [[p.masks.foreground, [194, 96, 59]], [p.masks.reference, [37, 99, 235]]]
      : [[p.masks.human, [194, 96, 59]]];
  const w = maskCanvas.width;
  for (const [url, [r, g, b]] of layers) {
    if (!url) continue;
    const m = await loadMask(url, maskCanvas.width, maskCanvas.height);
    const img = mctx.getImageData(0, 0, maskCanvas.width, maskCanvas.height);
    for (let i = 0; i < m.length; i++) {
      if (m[i] <= 127) continue;
      const edge = m[i - 1] <= 127 || m[i + 1] <= 127 || m[i - w] <= 127 || m[i + w] <= 127
        || i % w === 0 || i % w === w - 1 || i < w || i >= m.length - w;
      if (referenceOutline && !edge) continue;
      img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b;
      img.data[4 * i + 3] = referenceOutline ? 255 : 110;
    }
    mctx.putImageData(img, 0, 0);
  }
}

async function refineAt(e, positive) {
  const rect = canvas.getBoundingClientRect();
  const p = photo();
  const x = ((e.clientX - rect.left) / rect.width) * p.width;
  const y = ((e.clientY - rect.top) / rect.height) * p.height;
  root.dataset.refining = "1";
  try {
    const result = await api(`${A}/photos/${p.id}/mask`, { method: "POST", body: { clicks: [{ x, y, positive }] } });
    p.masks.human = result.url;
    showMask = true;
    await drawMask();
    root.dataset.maskVersion = String(result.mask);
  } catch (error) { toast(error.message, "error"); } finally { delete root.dataset.refining; }
}

// --- review issues --------------------------------------------------------------------------------
function drawIssues() {
  const layer = $("issue-layer");
  layer.replaceChildren();
  if (!main) return;
  const p = photo();
  layer.setAttribute("viewBox", `0 0 ${p.width} ${p.height}`);
  layer.setAttribute("preserveAspectRatio", "none");
  for (const issue of detail.issues) {
    if (issue.photo !== p.id || !issue.region || !["open", "reopened"].includes(issue.state)) continue;
    const ns = "http://www.w3.org/2000/svg";
    if (issue.region.box) {
      const [x0, y0, x1, y1] = issue.region.box;
      const r = document.createElementNS(ns, "rect");
      Object.entries({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "issue-box" }).forEach(([k, v]) => r.setAttribute(k, v));
      layer.append(r);
    }
    for (const [x, y, rad] of issue.region.brush || []) {
      const c = document.createElementNS(ns, "circle");
      Object.entries({ cx: x, cy: y, r: rad, class: "issue-box" }).forEach(([k, v]) => c.setAttribute(k, v));
      layer.append(c);
    }
  }
}

function renderIssues() {
  const list = $("issues");
  list.replaceChildren();
  $("issues-box").hidden = !detail.issues.length;
  for (const issue of detail.issues) {
    const where = issue.photo ? detail.photos.find((p) => p.id === issue.photo) : null;
    const li = el("li", { class: `issue ${issue.state}`, "data-id": issue.id },
      el("div", { class: "issue-head" }, el("span", { class: "badge", text: issue.state }),
        el("span", { class: "muted small", text: `round ${issue.round}${where ? ` · ${where.original_name}` : ""}${issue.slider ? ` · ${LABELS[issue.slider] || issue.slider}` : ""}` })),
      el("p", { text: issue.comment }));
    if (issue.region && where) li.append(regionThumb(where, issue.region)); // the pinned box or brushed area
    if (issue.suggested_params) {
      li.append(el("p", { class: "muted small", text: `Suggested: ${Object.entries(issue.suggested_params).map(([k, v]) => `${LABELS[k] || k} ${formatValue(k, v)}`).join(", ")}` }));
    }
    if (["open", "reopened"].includes(issue.state) && editable()) {
      const actions = el("div", { class: "panel-actions" });
      if (where) actions.append(button("Show", () => selectPhoto(detail.photos.indexOf(where))));
      if (issue.suggested_params && where) {
        actions.append(button("Preview suggestion", async () => {
          await selectPhoto(detail.photos.indexOf(where));
          preview = issue.suggested_params; scheduleRender();
          toast("Previewing the reviewer's suggestion (not saved). Apply it or move a slider to leave.");
        }));
        actions.append(button("Apply & resolve", () => resolve(issue, true)));
      }
      actions.append(button("Mark fixed", () => resolve(issue, false)));
      li.append(actions);
    }
    list.append(li);
  }
}

const button = (text, onClick) => {
  const b = el("button", { type: "button", class: "button ghost small", text });
  b.addEventListener("click", onClick);
  return b;
};

async function resolve(issue, apply) {
  await flushSave();
  try {
    const updated = await api(`${A}/issues/${issue.id}/resolve/`, { method: "POST", body: { apply_suggestion: apply } });
    Object.assign(issue, updated);
    preview = null;
    if (issue.photo) {
      const p = detail.photos.find((x) => x.id === issue.photo);
      if (!detail.issues.some((i) => i.photo === p.id && ["open", "reopened"].includes(i.state))) setPhotoState(p, "edited");
      if (apply) await refreshParams([issue.photo]);
    }
    renderIssues(); drawIssues();
  } catch (error) { toast(error.message, "error"); }
}

// --- full size on demand (a job on a worker; a newer request cancels the older one) --------------
async function renderFull() {
  await flushSave();
  if (fullJob && !fullJobFinished) api(`/api/jobs/${fullJob}/cancel/`, { method: "POST" }).catch(() => {}); // superseded
  $("full-status").hidden = false; $("full-text").textContent = "Queued"; $("full-bar").style.width = "0%";
  try {
    const job = await api("/api/jobs/", { method: "POST", body: { engine: "adjust", inputs: { photo: photo().id }, params } });
    fullJob = job.id; fullJobFinished = false;
    if (jobEvents.has(job.id)) onJobEvent(jobEvents.get(job.id));
  } catch (error) { $("full-status").hidden = true; toast(error.message, "error"); }
}

const jobEvents = new Map(); // job id → its latest event (one may arrive before the POST's reply)
let fullJobFinished = false;

function onJobEvent(event) {
  if (event.type !== "job") return;
  jobEvents.set(event.id, event);
  if (jobEvents.size > 32) jobEvents.delete(jobEvents.keys().next().value);
  if (event.id !== fullJob || fullJobFinished) return; // a superseded job, or a late event after the end
  fullJobFinished = ["succeeded", "failed", "cancelled"].includes(event.status);
  // Words and bar agree: a full bar only when done, the percentage shown is the bar's.
  const percent = event.status === "succeeded" ? 100 : event.status === "running" ? Math.min(99, Math.round(event.progress * 100)) : 0;
  $("full-bar").style.width = `${percent}%`;
  $("full-status").dataset.status = event.status;
  $("full-text").textContent = { queued: "Queued", running: `Rendering full size ${percent} %`, failed: "Full size failed",
    cancelled: "Cancelled" }[event.status] || event.status;
  if (event.status === "succeeded") {
    const image = event.outputs.find((o) => o.name === "image");
    const link = el("a", { href: image.url, target: "_blank", rel: "noopener", text: "Open full size" });
    $("full-text").replaceChildren(link);
  }
}

// --- submit ----------------------------------------------------------------------------------------
async function submit() {
  await flushSave();
  $("qa-box").hidden = true;
  try {
    const moved = await api(`${A}/submit/`, { method: "POST" });
    detail.state = moved.state; detail.editable = false;
    updateState();
    toast("Submitted for review.");
  } catch (error) {
    const box = $("qa-list");
    box.replaceChildren();
    const [head, rest] = error.message.split(/: (.*)/s);
    const items = error.status === 400 && rest ? rest.split(" • ") : [error.message];
    $("qa-box").querySelector("h3").textContent = error.status === 400 && rest ? head : "Not submitted";
    for (const item of items) box.append(el("li", { text: item }));
    $("qa-box").hidden = false;
  }
}

function updateState() {
  const pill = $("ed-state");
  pill.dataset.state = detail.state; pill.textContent = STATE_LABELS[detail.state];
  $("ed-round").textContent = detail.round;
  setEnabled(); renderIssues(); updateUndo();
  root.dataset.state = detail.state;
}

// --- XMP ----------------------------------------------------------------------------------------------
async function importXmp(files) {
  if (!files.length) return;
  await flushSave();
  const form = new FormData();
  for (const f of files) form.append("files", f);
  try {
    const result = await api(`${A}/xmp/`, { method: "POST", body: form });
    const unsupported = new Set(result.applied.flatMap((a) => Object.keys(a.unsupported)));
    toast(`Imported ${result.applied.length} sidecar(s)${result.unmatched.length ? `; no photo named like ${result.unmatched.join(", ")}` : ""}`
      + `${unsupported.size ? `. Not supported (kept in the report): ${[...unsupported].join(", ")}` : ""}.`);
    await refreshParams(result.applied.map((a) => a.photo));
  } catch (error) { toast(error.message, "error"); }
}

// --- wiring -----------------------------------------------------------------------------------------
function wire() {
  $("undo").addEventListener("click", () => step(-1));
  $("redo").addEventListener("click", () => step(1));
  $("show-before").addEventListener("click", () => { showBefore = true; toggleBefore(); });
  $("show-after").addEventListener("click", () => { showBefore = false; toggleBefore(); });
  $("zoom-fit").addEventListener("click", () => zoomTo("fit"));
  $("zoom-100").addEventListener("click", () => zoomTo("100"));
  $("mask-toggle").addEventListener("click", () => { showMask = !showMask; drawMask(); });
  $("mask-refine").addEventListener("click", () => { refining = !refining; showMask = showMask || refining; drawMask(); });
  canvas.addEventListener("click", (e) => { if (refining) refineAt(e, !e.altKey); });
  canvas.addEventListener("contextmenu", (e) => { if (refining) { e.preventDefault(); refineAt(e, false); } });
  $("copy").addEventListener("click", () => { clipboard = clone(params); $("paste").disabled = !editable(); toast("Settings copied."); });
  $("paste").addEventListener("click", () => { if (clipboard) { params = { ...params, ...clone(clipboard) }; syncInputs(); scheduleRender(); commit(); } });
  $("sync").addEventListener("click", openSync);
  $("sync-dialog").addEventListener("close", () => { if ($("sync-dialog").returnValue === "sync") doSync(); });
  $("match").addEventListener("click", matchTone);
  $("reset-all").addEventListener("click", () => { params = { ...params, ...identity() }; syncInputs(); scheduleRender(); commit(); });
  $("render-full").addEventListener("click", renderFull);
  $("submit").addEventListener("click", submit);
  $("xmp-import").addEventListener("change", (e) => importXmp([...e.target.files]));
  window.addEventListener("resize", layout);
  window.addEventListener("beforeunload", () => { if (dirtyPhoto) flushSave(); });
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input[type=number], input[type=text], textarea")) return;
    const key = e.key.toLowerCase();
    if ((e.ctrlKey || e.metaKey) && key === "z") { e.preventDefault(); step(e.shiftKey ? 1 : -1); }
    else if ((e.ctrlKey || e.metaKey) && key === "y") { e.preventDefault(); step(1); }
    else if (e.key === "\\" && !e.repeat) { showBefore = true; toggleBefore(); }
    else if (key === "z" && !e.ctrlKey) zoomTo(zoom === "fit" ? "100" : "fit");
    else if (key === "m") { showMask = !showMask; drawMask(); }
    else if (e.key === "ArrowRight" && current < detail.photos.length - 1) selectPhoto(current + 1);
    else if (e.key === "ArrowLeft" && current > 0) selectPhoto(current - 1);
  });
  document.addEventListener("keyup", (e) => { if (e.key === "\\") { showBefore = false; toggleBefore(); } });
  setupPan();
}

function toggleBefore() {
  $("show-before").classList.toggle("active", showBefore);
  $("show-after").classList.toggle("active", !showBefore);
  renderNow();
}

async function start() {
  detail = await api(`${A}/`);
  $("glc-limit").textContent = detail.qa.max_glc;
  buildSliders();
  buildFilmstrip();
  wire();
  updateState();
  if (isHarmonization()) $("render-full").hidden = true;
  await selectPhoto(Math.max(0, detail.photos.findIndex((p) => p.state === "issue")));
  await loadThumbs();
  if (detail.editable) socket("/ws/jobs/", onJobEvent);
  timings.ready = true;
  root.dataset.ready = "1";
}

start().catch((error) => toast(error.message, "error"));
