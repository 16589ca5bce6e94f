// Photo page: adjust sliders → instant canvas preview → full-resolution job on a worker,
// whose progress and result arrive over the /ws/jobs/ WebSocket (the page never polls).
import { api, socket, toast } from "./api.js";

const editor = document.getElementById("editor");
const photo = JSON.parse(editor.dataset.photo);
const canRun = editor.dataset.canRun === "1";
const form = document.getElementById("adjust-form");
const before = document.getElementById("photo-before");
const preview = document.getElementById("photo-preview");
const result = document.getElementById("photo-result");
const statusBox = document.getElementById("job-status");
const statusText = document.getElementById("job-status-text");
const bar = document.getElementById("job-progress-bar");
const download = document.getElementById("download-result");

let latestJob = null;      // id of the newest job we submitted: older results are ignored
let history = [];          // undo stack of parameter sets
let previewModule = null;
let sourcePixels = null;
let submitTimer = null;
let showingBefore = false;

const params = () => Object.fromEntries([...form.elements].filter((i) => i.name).map((i) => [i.name, Number(i.value)]));

function setParams(p) {
  for (const input of form.elements) if (input.name in p) input.value = p[input.name];
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

function showLayer() {
  before.hidden = !showingBefore;
  const haveResult = result.dataset.forParams === JSON.stringify(params()) && result.src;
  result.hidden = showingBefore || !haveResult;
  preview.hidden = showingBefore || haveResult || !sourcePixels;
  document.getElementById("show-before").classList.toggle("active", showingBefore);
  document.getElementById("show-after").classList.toggle("active", !showingBefore);
}

async function initPreview() {
  try {
    previewModule = await import("./adjust-preview.js");
  } catch {
    return; // no preview module: the server's result is still shown
  }
  await before.decode().catch(() => {});
  preview.width = before.naturalWidth; preview.height = before.naturalHeight;
  const ctx = preview.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(before, 0, 0);
  sourcePixels = ctx.getImageData(0, 0, preview.width, preview.height);
  renderPreview();
}

function renderPreview() {
  if (!previewModule || !sourcePixels) return;
  const out = previewModule.applyAdjustments(sourcePixels.data, params(), { width: sourcePixels.width, height: sourcePixels.height });
  preview.getContext("2d").putImageData(new ImageData(out, sourcePixels.width, sourcePixels.height), 0, 0);
  showLayer();
}

async function submit() {
  const p = params();
  if (!canRun) return;
  statusBox.hidden = false; statusText.textContent = "Queued"; bar.style.width = "0%";
  try {
    const job = await api("/api/jobs/", { method: "POST", body: { engine: "adjust", inputs: { photo: photo.id }, params: p } });
    latestJob = job.id;
    editor.dataset.latestJob = job.id;
    result.dataset.pendingParams = JSON.stringify(p);
  } catch (error) {
    statusBox.hidden = true;
    toast(error.message, "error");
  }
}

function onJobEvent(event) {
  if (event.type !== "job" || event.id !== latestJob) return;
  bar.style.width = `${Math.round(event.progress * 100)}%`;
  statusText.textContent = { queued: "Queued", running: `Rendering ${Math.round(event.progress * 100)}%`,
    succeeded: "Done", failed: "Failed", cancelled: "Cancelled" }[event.status] || event.status;
  if (event.status === "succeeded") {
    const image = event.outputs.find((o) => o.name === "image");
    const forParams = result.dataset.pendingParams;
    const loader = new Image();
    loader.onload = () => {
      if (event.id !== latestJob) return;
      result.src = loader.src; result.dataset.forParams = forParams;
      editor.dataset.resultJob = event.id;
      download.href = loader.src; download.hidden = false;
      showLayer();
      setTimeout(() => { statusBox.hidden = true; }, 600);
    };
    loader.src = image.url;
  } else if (event.status === "failed") {
    toast(event.error || "The job failed.", "error");
  }
}

function changed({ record = true } = {}) {
  if (record) history.push(JSON.parse(form.dataset.committed || "{}"));
  form.dataset.committed = JSON.stringify(params());
  syncOutputs();
  renderPreview();
  showLayer();
  clearTimeout(submitTimer);
  submitTimer = setTimeout(submit, 250);
}

form.addEventListener("input", () => { syncOutputs(); renderPreview(); });
form.addEventListener("change", () => changed());
document.getElementById("reset-adjust").addEventListener("click", () => {
  setParams(Object.fromEntries(Object.keys(params()).map((k) => [k, 0]))); changed();
});
const undo = () => { if (!history.length) return; setParams(history.pop()); changed({ record: false }); };
document.getElementById("undo-adjust").addEventListener("click", undo);
document.getElementById("show-before").addEventListener("click", () => { showingBefore = true; showLayer(); });
document.getElementById("show-after").addEventListener("click", () => { showingBefore = false; showLayer(); });
document.addEventListener("keydown", (e) => {
  if (e.target.matches("input[type=text], textarea")) return;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); undo(); }
  else if (e.key === "b" && !e.repeat) { showingBefore = true; showLayer(); }
  else if (e.key === "r" && !e.ctrlKey && !e.metaKey) document.getElementById("reset-adjust").click();
});
document.addEventListener("keyup", (e) => { if (e.key === "b") { showingBefore = false; showLayer(); } });

form.dataset.committed = JSON.stringify(params());
syncOutputs();
socket("/ws/jobs/", onJobEvent, { onOpen: () => { editor.dataset.socket = "open"; } });
initPreview();
showLayer();
