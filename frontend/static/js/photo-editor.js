// Photo page: sliders and a tone curve → instant canvas preview in the browser (adjust-preview.js).
// The full-resolution render is a job on a worker, started only when asked ("Render full size", F):
// a newer request cancels the older job (POST /api/jobs/<id>/cancel/) and late events or results of
// a superseded job are ignored. Progress and the result arrive over /ws/jobs/ (the page never polls).
import { api, socket, toast } from "./api.js";
import { ToneCurve } from "./tone-curve.js";

const editor = document.getElementById("editor");
const photo = JSON.parse(editor.dataset.photo);
const canRun = editor.dataset.canRun === "1";
const form = document.getElementById("adjust-form");
const before = document.getElementById("photo-before");
const preview = document.getElementById("photo-preview");
const result = document.getElementById("photo-result");
const statusBox = document.getElementById("job-status");
const statusText = document.getElementById("job-status-text");
const progress = document.getElementById("job-progress");
const bar = document.getElementById("job-progress-bar");
const download = document.getElementById("download-result");
const renderButton = document.getElementById("render-full");
const note = document.getElementById("render-note");
const FINISHED = ["succeeded", "failed", "cancelled"];
const STEM = (photo.original_name || `photo-${photo.id}`).replace(/\.[^.]+$/, "");

// The job of the newest full-size request: {id, params (JSON), status, percent}. Events of any other
// job are ignored, so a superseded render can never overwrite a newer one.
let job = null;
let requests = 0;          // counts render requests: a reply to an older POST is cancelled on arrival
const recentEvents = new Map(); // job id → its latest event (one may arrive before the POST's reply)
let history = [];          // undo stack of parameter sets
let live = null;           // LivePreview (annotation-common.js) on the preview canvas
let sourcePixels = null;
let showingBefore = false;
let histTimer = 0;

const curve = new ToneCurve(document.getElementById("tone-curve"), {
  onInput: () => renderPreview(),
  onChange: () => changed(),
});
curve.setEnabled(canRun);

const params = () => ({
  ...Object.fromEntries([...form.elements].filter((i) => i.name).map((i) => [i.name, Number(i.value)])),
  tone_curve: curve.value(),
});
const paramsKey = (p = params()) => JSON.stringify(p);

function setParams(p) {
  for (const input of form.elements) if (input.name in p) input.value = p[input.name];
  curve.setValue(p.tone_curve || []);
  syncOutputs();
}

function syncOutputs() {
  for (const input of form.elements) {
    if (!input.name) continue;
    const out = document.getElementById(`out-${input.name}`);
    const v = Number(input.value);
    out.textContent = input.name === "exposure" ? `${v > 0 ? "+" : ""}${v.toFixed(2)} EV` : `${v > 0 ? "+" : ""}${v}`;
  }
}

// The full-size result is shown (and offered for download) only while it is the render of the
// settings on screen; otherwise the local preview is.
function showLayer() {
  const current = result.dataset.forParams === paramsKey() && Boolean(result.getAttribute("src"));
  before.hidden = !showingBefore;
  result.hidden = showingBefore || !current;
  preview.hidden = showingBefore || current || !sourcePixels;
  download.hidden = !current;
  document.getElementById("show-before").classList.toggle("active", showingBefore);
  document.getElementById("show-after").classList.toggle("active", !showingBefore);
  const busy = job && !FINISHED.includes(job.status);
  if (current) note.textContent = "The full-size result matches these settings.";
  else if (busy && job.params === paramsKey()) note.textContent = "Rendering these settings at full size…";
  else if (result.getAttribute("src")) note.textContent = "Settings changed since the last full-size render.";
  else note.textContent = "";
  renderButton.disabled = !canRun || current || Boolean(busy && job.params === paramsKey());
}

async function initPreview() {
  let common;
  try {
    common = await import("./annotation-common.js");
  } catch {
    return; // no preview module: the full-size render is still there
  }
  await before.decode().catch(() => {});
  preview.width = before.naturalWidth; preview.height = before.naturalHeight;
  const ctx = preview.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(before, 0, 0);
  sourcePixels = ctx.getImageData(0, 0, preview.width, preview.height);
  live = new common.LivePreview(ctx); // slider drags render on workers, newest value only
  live.setSource(sourcePixels);
  renderPreview({ now: true });
  editor.dataset.previewReady = "1";
}

// While a slider or the curve moves: a worker frame (superseded ones are dropped). A committed
// change (`now`): drawn at once, so the canvas shows it when the change event is handled.
function renderPreview({ now = false } = {}) {
  if (!live) return;
  const shown = params();
  if (now) { live.drawNow(shown); previewDrawn(); } else live.render(shown).then((drawn) => { if (drawn) previewDrawn(); });
}

function previewDrawn() {
  showLayer();
  clearTimeout(histTimer);
  histTimer = setTimeout(() => curve.setHistogram(lumaHistogram(live.pixels())), 120); // behind the curve, as Lightroom draws it
}

function lumaHistogram(rgba) {
  const bins = new Uint32Array(256);
  for (let i = 0; i < rgba.length; i += 16) bins[(0.2126 * rgba[i] + 0.7152 * rgba[i + 1] + 0.0722 * rgba[i + 2]) | 0]++;
  return bins;
}

// --- the full-size render, on demand ------------------------------------------------------------------
function cancelJob(id) {
  // A job that finished meanwhile answers 409: nothing to do, its late result is ignored anyway.
  return api(`/api/jobs/${id}/cancel/`, { method: "POST" }).catch(() => {});
}

async function renderFull() {
  if (!canRun) return;
  const p = params();
  const key = paramsKey(p);
  if (job && job.params === key && !["failed", "cancelled"].includes(job.status)) return; // already asked for these
  const mine = ++requests;
  if (job?.id && !FINISHED.includes(job.status)) cancelJob(job.id); // (one still being sent is cancelled on its reply)
  job = { id: null, params: key, status: "queued", percent: 0 };
  showProgress("queued", 0);
  showLayer();
  try {
    const created = await api("/api/jobs/", { method: "POST", body: { engine: "adjust", inputs: { photo: photo.id }, params: p } });
    if (mine !== requests) { cancelJob(created.id); return; } // a newer request came while this one was sent
    job.id = created.id;
    editor.dataset.latestJob = created.id;
    const early = recentEvents.get(created.id);
    if (early) onJobEvent(early);
    else if (FINISHED.includes(created.status)) onJobEvent({ type: "job", ...created });
  } catch (error) {
    if (mine !== requests) return;
    job = null;
    statusBox.hidden = true;
    showLayer();
    toast(error.message, "error");
  }
}

// The pill's words and its bar always tell the same thing: "Done" only with a full bar.
function showProgress(status, percent) {
  const label = { queued: "Queued", running: `Rendering ${percent} %`, succeeded: "Done", failed: "Failed",
    cancelled: "Cancelled" }[status] || status;
  statusBox.hidden = false;
  statusBox.dataset.status = status;
  bar.style.width = `${percent}%`;
  progress.setAttribute("aria-valuenow", String(percent));
  statusText.textContent = label;
}

function onJobEvent(event) {
  if (event.type !== "job") return;
  recentEvents.set(event.id, event);
  if (recentEvents.size > 32) recentEvents.delete(recentEvents.keys().next().value);
  if (!job || event.id !== job.id) return; // a superseded job (or one not ours): ignored
  if (FINISHED.includes(job.status)) return; // its end is known; a late event cannot undo it
  const status = event.status;
  const percent = status === "succeeded" ? 100 : status === "running"
    ? Math.max(job.percent, Math.min(99, Math.round((event.progress || 0) * 100))) : job.percent;
  job.status = status; job.percent = percent;
  showProgress(status, percent);
  if (status === "succeeded") {
    const image = (event.outputs || []).find((o) => o.name === "image");
    const finished = job;
    const loader = new Image();
    loader.onload = () => {
      if (finished !== job) return; // a newer render was asked for meanwhile
      result.src = loader.src; result.dataset.forParams = finished.params;
      editor.dataset.resultJob = finished.id;
      download.href = loader.src;
      download.download = `${STEM}-retouched.${(image.url.split(".").pop() || "png").split("?")[0]}`;
      showLayer();
      setTimeout(() => { if (finished === job) statusBox.hidden = true; }, 1200);
    };
    loader.src = image.url;
  } else if (status === "failed") {
    toast(event.error || "The full-size render failed.", "error");
  }
  showLayer();
}

// --- edits ---------------------------------------------------------------------------------------
function changed({ record = true } = {}) {
  if (record) history.push(JSON.parse(form.dataset.committed || "{}"));
  form.dataset.committed = paramsKey();
  syncOutputs();
  renderPreview({ now: true });
  showLayer();
}

form.addEventListener("input", () => { syncOutputs(); renderPreview(); });
form.addEventListener("change", () => changed());
form.addEventListener("dblclick", (e) => { // double-click a slider to reset it, as in Lightroom
  if (e.target.matches("input[type=range]") && canRun) { e.target.value = 0; changed(); }
});
document.getElementById("reset-adjust").addEventListener("click", () => {
  setParams({ ...Object.fromEntries(Object.keys(params()).map((k) => [k, 0])), tone_curve: [] }); changed();
});
const undo = () => { if (!history.length) return; setParams(history.pop()); changed({ record: false }); };
document.getElementById("undo-adjust").addEventListener("click", undo);
renderButton.addEventListener("click", renderFull);
document.getElementById("show-before").addEventListener("click", () => { showingBefore = true; showLayer(); });
document.getElementById("show-after").addEventListener("click", () => { showingBefore = false; showLayer(); });
document.addEventListener("keydown", (e) => {
  if (e.target.matches("input[type=text], input[type=number], textarea")) return;
  const key = e.key.toLowerCase();
  if ((e.ctrlKey || e.metaKey) && key === "z") { e.preventDefault(); undo(); }
  else if (e.ctrlKey || e.metaKey || e.altKey) return;
  else if (key === "b" && !e.repeat) { showingBefore = true; showLayer(); }
  else if (key === "r") document.getElementById("reset-adjust").click();
  else if (key === "f" && !e.repeat) renderFull();
});
document.addEventListener("keyup", (e) => { if (e.key.toLowerCase() === "b") { showingBefore = false; showLayer(); } });

form.dataset.committed = paramsKey();
syncOutputs();
socket("/ws/jobs/", onJobEvent, { onOpen: () => { editor.dataset.socket = "open"; } });
initPreview();
showLayer();
