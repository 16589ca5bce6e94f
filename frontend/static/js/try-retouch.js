// /try/: click-guided retouching over the /ws/sessions/<id>/ WebSocket.
// Every change (click, undo, redo, reset, slider) sends the full click list with a new seq; the
// server answers only the newest seq. Results already seen are cached by (clicks, params), so
// undo/redo show them at once without a round trip. While the socket is down an offline banner says
// so, new clicks are held (drawn as pending) and the current click list is sent on reconnection.
import { api, el, socket, toast, upload } from "./api.js";
import { blurSlidersOnRelease, compareControl, downloadName, isNetworkError, isTyping, revealStage, sentence, setDownload, sizeStage, zoomPan } from "./try-common.js";
import { tooLarge } from "./upload-limit.js";

const root = document.getElementById("try");
const engine = root.dataset.engine;
const $ = (id) => document.getElementById(id);
const wrap = $("canvas-wrap"), canvas = $("canvas"), picker = $("picker");
const imgBefore = $("img-before"), imgResult = $("img-result"), imgResidual = $("img-residual");
const markers = $("markers"), busy = $("busy"), latency = $("latency");
const strength = $("strength"), background = $("background"), offline = $("offline");

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
let online = false;        // the session's socket is open
let held = 0;              // changes made while it was not
let shownClicks = [];      // the click list of the result on screen (other markers are pending)
let positiveMode = true;   // what a click or tap adds (right click and long press: negative)
let offlineTimer = null;

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
    const refusal = tooLarge(file), note = $("upload-error");
    note.hidden = !refusal; note.textContent = refusal || "";
    if (refusal) { toast(refusal, "error"); input.value = ""; return; } // refused before a byte is sent
    const bar = $("upload-progress"); bar.hidden = false;
    const form = new FormData(); form.append("file", file);
    try {
      const p = await upload("/api/photos/", form, (f) => { bar.firstElementChild.style.width = `${Math.round(f * 100)}%`; });
      start(p);
    } catch (error) { toast(error.message, "error"); note.hidden = false; note.textContent = error.message; } finally { bar.hidden = true; input.value = ""; }
  };
  input.addEventListener("change", () => input.files[0] && send(input.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); });
}

async function start(p) {
  photo = p;
  stack = [[]]; index = 0; results.clear(); pending = null; shownClicks = []; held = 0;
  ws?.close(); ws = null; online = false; setOffline(false);
  root.dataset.resultSeq = ""; root.dataset.state = "connecting";
  imgResult.removeAttribute("src"); imgResidual.removeAttribute("src");
  imgBefore.src = p.urls.display;
  $("try-title").textContent = `${p.original_name || `Photo ${p.id}`} · ${p.width} × ${p.height}`;
  $("try-title").title = $("try-title").textContent;
  picker.hidden = true; canvas.hidden = false;
  window.history.replaceState(null, "", `?photo=${p.id}`);
  root.dispatchEvent(new CustomEvent("try:photo", { detail: p })); // tools of the page (blemish-tool.js)
  layout(); zoom.reset(); drawMarkers(); syncButtons(); revealStage(wrap);
  try {
    session = await api("/api/sessions/", { method: "POST", body: { photo: p.id, engine } });
  } catch (error) { toast(sentence(error, "open a retouching session"), "error"); return; }
  root.dataset.session = session.id;
  ws = socket(`/ws/sessions/${session.id}/`, onMessage, { onOpen: onOnline, onClose: onOffline });
}

// ---------------------------------------------------------------- connection state, in words
function setOffline(on, sent = 0) {
  clearTimeout(offlineTimer);
  root.dataset.online = on ? "0" : "1";
  if (on) {
    const waiting = held ? ` Your ${held === 1 ? "change is" : `${held} changes are`} kept and will be sent when it is back.` : " Clicks you make now are kept and sent when it is back.";
    offline.textContent = `The connection to the server was lost — reconnecting…${waiting}`;
    offline.className = "offline-banner"; offline.hidden = false; offline.dataset.sent = "0";
    return;
  }
  const wasOffline = !offline.hidden && !offline.classList.contains("back");
  if (!wasOffline) { offline.hidden = true; return; }
  offline.className = "offline-banner back"; offline.dataset.sent = String(sent);
  if (sent) {
    // stays until the result with those changes arrives (onMessage → announceSent)
    offline.textContent = `Back online — sending your ${sent === 1 ? "waiting change" : `${sent} waiting changes`}…`;
  } else {
    offline.textContent = "Back online.";
    offlineTimer = setTimeout(() => { offline.hidden = true; }, 3000);
  }
}

function announceSent() {
  const sent = Number(offline.dataset.sent || 0);
  if (offline.hidden || !offline.classList.contains("back") || !sent) return;
  offline.dataset.sent = "0";
  offline.textContent = `Back online — your ${sent === 1 ? "waiting change is" : `${sent} waiting changes are`} in the result.`;
  clearTimeout(offlineTimer);
  offlineTimer = setTimeout(() => { offline.hidden = true; }, 4000);
}

function onOnline() {
  const sent = held;
  online = true; held = 0; root.dataset.state = "ready";
  setOffline(false, sent);
  request(true);
}

function onOffline() {
  online = false; root.dataset.state = "offline";
  if (pending) { pending = null; busy.hidden = true; } // its answer will never come: resent on reconnection
  latency.textContent = "offline";
  setOffline(true);
  drawMarkers();
}

// ---------------------------------------------------------------- layout and drawing
function layout() {
  if (!photo || canvas.hidden) { wrap.style.height = ""; return; }
  sizeStage(wrap, photo.width, photo.height);
  const W = wrap.clientWidth - 32, H = wrap.clientHeight - 32;
  const s = Math.min(W / photo.width, H / photo.height);
  canvas.style.width = `${Math.round(photo.width * s)}px`;
  canvas.style.height = `${Math.round(photo.height * s)}px`;
  zoom?.apply();
}

function drawMarkers() {
  const list = clicks();
  const answered = new Set(shownClicks.map((c) => JSON.stringify(c)));
  markers.replaceChildren(...list.map((c, i) => el("span", {
    class: `marker ${c.positive ? "pos" : "neg"}${i === list.length - 1 ? " latest" : ""}${answered.has(JSON.stringify(c)) ? "" : " pending"}`,
    title: answered.has(JSON.stringify(c)) ? "" : "Not in the result on show yet",
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
  shownClicks = result.clicks || [];
  drawMarkers();
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
  if (!ws?.ready || !online) {
    // held: drawn as pending, sent (as the whole current list) when the socket is back
    if (session && !force) { held += 1; setOffline(true); }
    return;
  }
  seq += 1;
  pending = { seq, key, clicks: c, sentAt: performance.now() };
  busy.hidden = false;
  ws.send({ clicks: c, params: p, seq });
}

function onMessage(msg) {
  if (!pending || msg.seq !== pending.seq) return; // stale: a newer request is in flight
  busy.hidden = true;
  const rtt = performance.now() - pending.sentAt;
  if (msg.type === "result") {
    const result = { seq: msg.seq, url: msg.url, residual_url: msg.residual_url, server_ms: msg.server_ms, clicks: pending.clicks };
    results.set(pending.key, result);
    show(result);
    latency.textContent = `${Math.round(rtt)} ms · server ${Math.round(msg.server_ms)} ms`;
    announceSent();
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

// Mouse: a left click adds the chosen kind (Emphasise / Leave alone), a right click a negative point.
// Touch and pen: a tap adds the chosen kind, a long press (half a second) a negative point; a drag
// or a pinch zooms and pans instead (zoomPan's onGesture drops the pending tap).
const LONG_PRESS_MS = 500;
let press = null; // {id, x, y, point, timer, done}
const cancelPress = () => { if (press) clearTimeout(press.timer); press = null; };
const addPoint = (point, positive) => commit([...clicks(), { ...point, positive }]);

canvas.addEventListener("contextmenu", (e) => e.preventDefault());
canvas.addEventListener("pointerdown", (e) => {
  if (!photo || zoom.panning) return;
  if (e.pointerType === "mouse") {
    if (e.button !== 0 && e.button !== 2) return;
    e.preventDefault();
    addPoint(pointFrom(e), e.button === 0 ? positiveMode : false);
    return;
  }
  if (!e.isPrimary) return;
  cancelPress();
  const mine = { id: e.pointerId, x: e.clientX, y: e.clientY, point: pointFrom(e), done: false };
  mine.timer = setTimeout(() => {
    if (press !== mine) return;
    mine.done = true; navigator.vibrate?.(25);
    addPoint(mine.point, false);
  }, LONG_PRESS_MS);
  press = mine;
});
canvas.addEventListener("pointermove", (e) => {
  if (press && e.pointerId === press.id && Math.hypot(e.clientX - press.x, e.clientY - press.y) > 10) cancelPress();
});
canvas.addEventListener("pointerup", (e) => {
  if (!press || e.pointerId !== press.id) return;
  const mine = press; cancelPress();
  if (!mine.done) addPoint(mine.point, positiveMode);
});
canvas.addEventListener("pointercancel", cancelPress);

function setPointMode(positive) {
  positiveMode = positive;
  root.dataset.pointMode = positive ? "positive" : "negative";
  for (const [id, on] of [["mode-pos", positive], ["mode-neg", !positive]]) {
    $(id).classList.toggle("active", on); $(id).setAttribute("aria-pressed", String(on));
  }
}
$("mode-pos").addEventListener("click", () => setPointMode(true));
$("mode-neg").addEventListener("click", () => setPointMode(false));

const undo = () => { if (index > 0) { index -= 1; request(); } };
const redo = () => { if (index < stack.length - 1) { index += 1; request(); } };
const reset = () => { if (clicks().length) commit([]); };
$("btn-undo").addEventListener("click", undo);
$("btn-redo").addEventListener("click", redo);
$("btn-reset").addEventListener("click", reset);
$("btn-change").addEventListener("click", () => {
  picker.hidden = false; canvas.hidden = true; ws?.close(); ws = null; online = false; setOffline(false); photo = null; syncButtons(); layout();
  root.dispatchEvent(new CustomEvent("try:photo", { detail: null }));
});

for (const [input, out, fmt] of [[strength, "out-strength", (v) => v.toFixed(2)], [background, "out-background", (v) => v.toFixed(2)]]) {
  input.addEventListener("input", () => { $(out).textContent = fmt(Number(input.value)); if (photo) request(); });
}

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

// Shortcuts work wherever the focus is (a slider just dragged included), except while typing.
document.addEventListener("keydown", (e) => {
  if (!photo || isTyping(e.target) || e.altKey) return;
  const mod = e.ctrlKey || e.metaKey, key = e.key.toLowerCase();
  if (mod && key === "z") { e.preventDefault(); if (e.shiftKey) redo(); else undo(); }
  else if (mod && key === "y") { e.preventDefault(); redo(); }
  else if (mod) return;
  else if (key === "r") reset();
  else if (key === "v") setView(view === "result" ? "residual" : "result");
  else if (key === "x") setPointMode(!positiveMode);
});
window.addEventListener("resize", layout);
blurSlidersOnRelease(root);
const zoom = zoomPan({ wrap, canvas, imageWidth: () => photo?.width, onGesture: cancelPress, touchDragPans: true });
compareControl({ canvas, group: $("compare"), wrap });
setPointMode(true);

// the latency label never shows an old figure as if it were current
setInterval(() => {
  if (pending && online) {
    const waited = (performance.now() - pending.sentAt) / 1000;
    if (waited > 1.5) latency.textContent = `waiting ${waited.toFixed(0)} s…`;
  }
}, 500);

// ---------------------------------------------------------------- full resolution (an ordinary job)
function onJob(event) {
  if (!fullJob || event.id !== fullJob) return;
  const status = $("download-status");
  if (event.status === "running") status.textContent = `Rendering at full resolution… ${Math.round(event.progress * 100)}%`;
  if (event.status === "succeeded") {
    const out = event.outputs.find((o) => o.name === "image");
    const link = $("download-link");
    setDownload(link, out.url, downloadName(photo.original_name, "retouched", out.url));
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
      const j = await api(`/api/jobs/${job.id}/`).catch((error) => {
        if (isNetworkError(error) && fullJob === job.id) {
          $("download-status").textContent = "Lost contact with the server; the render may still be running. Checking again…";
        }
        return null;
      });
      if (j && fullJob === job.id) onJob({ ...j, id: j.id });
      if (fullJob === job.id) setTimeout(poll, 1500);
    };
    setTimeout(poll, 1500);
  } catch (error) {
    const message = sentence(error, "start the full-resolution render");
    toast(message, "error"); $("btn-download").disabled = false; $("download-status").textContent = message;
  }
});

// ---------------------------------------------------------------- boot
setupUpload();
loadSamples();
const wanted = Number(new URLSearchParams(location.search).get("photo"));
if (wanted) api(`/api/photos/${wanted}/`).then(start).catch(() => {});
