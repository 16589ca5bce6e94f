// /try/: click-guided retouching over the /ws/sessions/<id>/ WebSocket.
// Every change (click, undo, redo, reset, slider) sends the full click list with a new seq; the
// server answers only the newest seq. Results already seen are cached by (clicks, params), so
// undo/redo show them at once without a round trip.
import { api, el, socket, toast, upload } from "./api.js";

const root = document.getElementById("try");
const engine = root.dataset.engine;
const $ = (id) => document.getElementById(id);
const wrap = $("canvas-wrap"), canvas = $("canvas"), picker = $("picker");
const imgBefore = $("img-before"), imgResult = $("img-result"), imgResidual = $("img-residual");
const markers = $("markers"), busy = $("busy"), latency = $("latency");
const strength = $("strength"), background = $("background"), split = $("split");

let photo = null;          // the PhotoSerializer object
let session = null;        // {id}
let ws = null;
let stack = [[]];        // click lists; index points at the shown one
let index = 0;
let seq = 0;
let pending = null;        // {seq, key, sentAt}
const results = new Map(); // key → {seq, url, residual_url, server_ms}
let view = "result";
let jobsSocket = null;
let fullJob = null;

const clicks = () => stack[index];
const params = () => ({ strength: Number(strength.value), background: Number(background.value) });
const keyOf = (c, p) => JSON.stringify([c, p]);

// ---------------------------------------------------------------- choosing a photo
async function loadSamples() {
  const box = $("samples");
  try {
    const page = await api("/api/photos/?page_size=48");
    const list = page.results.filter((p) => !p.original_name?.startsWith("composite-"));
    if (!list.length) { box.replaceChildren(el("p", { class: "muted small", text: "The library is empty." })); return; }
    box.replaceChildren(...list.map((p) => {
      const b = el("button", { class: "try-sample", type: "button", "data-photo-id": p.id, title: p.original_name || "" },
        el("img", { src: p.urls.display, alt: p.original_name || `Photo ${p.id}`, loading: "lazy" }),
        el("span", { text: p.original_name || `Photo ${p.id}` }));
      b.addEventListener("click", () => start(p));
      return b;
    }));
  } catch (error) { toast(error.message, "error"); }
}

function setupUpload() {
  const zone = $("dropzone"); if (!zone) return;
  const input = $("file-input");
  const send = async (file) => {
    const bar = $("upload-progress"); bar.hidden = false;
    const form = new FormData(); form.append("file", file);
    try {
      const p = await upload("/api/photos/", form, (f) => { bar.firstElementChild.style.width = `${Math.round(f * 100)}%`; });
      start(p);
    } catch (error) { toast(error.message, "error"); } finally { bar.hidden = true; }
  };
  input.addEventListener("change", () => input.files[0] && send(input.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); });
}

async function start(p) {
  photo = p;
  stack = [[]]; index = 0; results.clear(); pending = null;
  ws?.close(); ws = null;
  root.dataset.resultSeq = ""; root.dataset.state = "connecting";
  imgResult.removeAttribute("src"); imgResidual.removeAttribute("src");
  imgBefore.src = p.urls.display;
  $("try-title").textContent = `${p.original_name || `Photo ${p.id}`} · ${p.width} × ${p.height}`;
  picker.hidden = true; canvas.hidden = false;
  window.history.replaceState(null, "", `?photo=${p.id}`);
  root.dispatchEvent(new CustomEvent("try:photo", { detail: p })); // tools of the page (blemish-tool.js)
  layout(); drawMarkers(); syncButtons();
  try {
    session = await api("/api/sessions/", { method: "POST", body: { photo: p.id, engine } });
  } catch (error) { toast(error.message, "error"); return; }
  root.dataset.session = session.id;
  ws = socket(`/ws/sessions/${session.id}/`, onMessage, { onOpen: () => { root.dataset.state = "ready"; request(true); } });
}

// ---------------------------------------------------------------- layout and drawing
function layout() {
  if (!photo || canvas.hidden) return;
  const W = wrap.clientWidth - 32, H = wrap.clientHeight - 32;
  const s = Math.min(W / photo.width, H / photo.height);
  canvas.style.width = `${Math.round(photo.width * s)}px`;
  canvas.style.height = `${Math.round(photo.height * s)}px`;
}

function drawMarkers() {
  const list = clicks();
  markers.replaceChildren(...list.map((c, i) => el("span", {
    class: `marker ${c.positive ? "pos" : "neg"}${i === list.length - 1 ? " latest" : ""}`,
    style: `left:${(100 * (c.x + 0.5)) / photo.width}%;top:${(100 * (c.y + 0.5)) / photo.height}%`,
  })));
  $("count-pos").textContent = list.filter((c) => c.positive).length;
  $("count-neg").textContent = list.filter((c) => !c.positive).length;
}

function syncButtons() {
  $("btn-undo").disabled = index === 0;
  $("btn-redo").disabled = index >= stack.length - 1;
  $("btn-reset").disabled = clicks().length === 0;
  $("btn-download").disabled = !photo;
}

function show(result) {
  imgResult.src = result.url;
  imgResidual.src = result.residual_url;
  root.dataset.resultSeq = String(result.seq);
  root.dataset.resultUrl = result.url;
}

// ---------------------------------------------------------------- talking to the session
function request(force = false) {
  drawMarkers(); syncButtons();
  const c = clicks(), p = params(), key = keyOf(c, p);
  const cached = results.get(key);
  if (cached && !force) { pending = null; busy.hidden = true; show(cached); return; }
  if (!ws?.ready) return;
  seq += 1;
  pending = { seq, key, sentAt: performance.now() };
  busy.hidden = false;
  ws.send({ clicks: c, params: p, seq });
}

function onMessage(msg) {
  if (!pending || msg.seq !== pending.seq) return; // stale: a newer request is in flight
  busy.hidden = true;
  const rtt = performance.now() - pending.sentAt;
  if (msg.type === "result") {
    const result = { seq: msg.seq, url: msg.url, residual_url: msg.residual_url, server_ms: msg.server_ms };
    results.set(pending.key, result);
    show(result);
    latency.textContent = `${Math.round(rtt)} ms · server ${Math.round(msg.server_ms)} ms`;
  } else if (msg.type === "error") {
    toast(msg.detail, "error");
  }
  pending = null;
}

function commit(next) {
  stack = stack.slice(0, index + 1);
  stack.push(next);
  index = stack.length - 1;
  request();
}

function pointFrom(event) {
  const r = canvas.getBoundingClientRect();
  const x = Math.min(photo.width - 1, Math.max(0, ((event.clientX - r.left) / r.width) * photo.width));
  const y = Math.min(photo.height - 1, Math.max(0, ((event.clientY - r.top) / r.height) * photo.height));
  return { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10 };
}

canvas.addEventListener("contextmenu", (e) => e.preventDefault());
canvas.addEventListener("mousedown", (e) => {
  if (!photo || (e.button !== 0 && e.button !== 2)) return;
  e.preventDefault();
  commit([...clicks(), { ...pointFrom(e), positive: e.button === 0 }]);
});

const undo = () => { if (index > 0) { index -= 1; request(); } };
const redo = () => { if (index < stack.length - 1) { index += 1; request(); } };
const reset = () => { if (clicks().length) commit([]); };
$("btn-undo").addEventListener("click", undo);
$("btn-redo").addEventListener("click", redo);
$("btn-reset").addEventListener("click", reset);
$("btn-change").addEventListener("click", () => {
  picker.hidden = false; canvas.hidden = true; ws?.close(); ws = null; photo = null; syncButtons();
  root.dispatchEvent(new CustomEvent("try:photo", { detail: null }));
});

for (const [input, out, fmt] of [[strength, "out-strength", (v) => v.toFixed(2)], [background, "out-background", (v) => v.toFixed(2)]]) {
  input.addEventListener("input", () => { $(out).textContent = fmt(Number(input.value)); if (photo) request(); });
}
split.addEventListener("input", () => { canvas.style.setProperty("--split", `${split.value}%`); $("out-split").textContent = `${split.value}%`; });

function setView(v) {
  view = v;
  imgResidual.hidden = v !== "residual";
  imgResult.hidden = v === "residual";
  canvas.classList.toggle("residual", v === "residual");
  $("view-result").classList.toggle("active", v === "result");
  $("view-residual").classList.toggle("active", v === "residual");
}
$("view-result").addEventListener("click", () => setView("result"));
$("view-residual").addEventListener("click", () => setView("residual"));

document.addEventListener("keydown", (e) => {
  if (!photo || e.target.closest?.("input, textarea, select")) return;
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key.toLowerCase() === "z") { e.preventDefault(); if (e.shiftKey) redo(); else undo(); }
  else if (mod && e.key.toLowerCase() === "y") { e.preventDefault(); redo(); }
  else if (!mod && e.key.toLowerCase() === "r") reset();
  else if (!mod && e.key.toLowerCase() === "v") setView(view === "result" ? "residual" : "result");
  else if (!mod && e.key.toLowerCase() === "b") canvas.classList.add("before-only");
});
document.addEventListener("keyup", (e) => { if (e.key.toLowerCase() === "b") canvas.classList.remove("before-only"); });
window.addEventListener("resize", layout);

// ---------------------------------------------------------------- full resolution (an ordinary job)
function onJob(event) {
  if (!fullJob || event.id !== fullJob) return;
  const status = $("download-status");
  if (event.status === "running") status.textContent = `Rendering at full resolution… ${Math.round(event.progress * 100)}%`;
  if (event.status === "succeeded") {
    const out = event.outputs.find((o) => o.name === "image");
    const link = $("download-link");
    link.href = out.url; link.hidden = false;
    const ext = out.url.split("?")[0].split(".").pop();
    link.setAttribute("download", `${(photo.original_name || "photo").replace(/\.[^.]+$/, "")}-retouched.${ext}`);
    status.textContent = "Full-resolution result ready."; fullJob = null; $("btn-download").disabled = false;
  }
  if (event.status === "failed" || event.status === "cancelled") {
    status.textContent = event.error || `The job ${event.status}.`; fullJob = null; $("btn-download").disabled = false;
  }
}

$("btn-download").addEventListener("click", async () => {
  if (!photo) return;
  jobsSocket ??= socket("/ws/jobs/", (m) => m.type === "job" && onJob(m));
  $("download-link").hidden = true; $("btn-download").disabled = true;
  $("download-status").textContent = "Queued for full resolution…";
  try {
    const body = { engine, inputs: { photo: photo.id, clicks: clicks() }, params: params(), output_format: $("output-format").value };
    const job = await api("/api/jobs/", { method: "POST", body });
    fullJob = job.id;
    const poll = async () => { // the socket is the fast path; polling covers a missed event
      if (fullJob !== job.id) return;
      const j = await api(`/api/jobs/${job.id}/`).catch(() => null);
      if (j && fullJob === job.id) onJob({ ...j, id: j.id });
      if (fullJob === job.id) setTimeout(poll, 1500);
    };
    setTimeout(poll, 1500);
  } catch (error) { toast(error.message, "error"); $("btn-download").disabled = false; $("download-status").textContent = ""; }
});

// ---------------------------------------------------------------- boot
setupUpload();
loadSamples();
const wanted = Number(new URLSearchParams(location.search).get("photo"));
if (wanted) api(`/api/photos/${wanted}/`).then(start).catch(() => {});
