// /try/harmonize/: paste a person into a scene (or take a composite + mask), mark a reference
// region (box or brush), and run the `harmonize` engine as an ordinary job (/api/jobs/).
import { api, el, socket, toast, upload } from "./api.js";
import { blurSlidersOnRelease, compareControl, downloadName, revealStage, sentence, serverWatch, setDownload, sizeStage, zoomPan } from "./try-common.js";
import { tooLarge } from "./upload-limit.js";

const root = document.getElementById("harm");
const $ = (id) => document.getElementById(id);
const wrap = $("canvas-wrap"), canvas = $("canvas");
const imgBg = $("img-bg"), imgResult = $("img-result"), imgPerson = $("img-person");
const brush = $("brush"), fgOverlay = $("fg-overlay"), boxEl = $("box");

let photos = [];
let mode = "paste";
let person = null, bg = null;          // photos for pasting
let place = { x: 0, y: 0, scale: 1 };  // person top-left in background pixels, scale person→bg pixels
let target = null;                     // {photo, mask}: the composite to harmonize
let tool = "box";
let box = null;                        // [x0, y0, x1, y1] in photo pixels
let painted = false;
let job = null;
let jobs = null;
let lastRun = null;                    // {reference, seconds} of the result on show

const byId = (id) => photos.find((p) => p.id === Number(id));
const label = (p) => `${p.original_name || `Photo ${p.id}`} (${p.width}×${p.height})`;

function setStep(step) {
  root.dataset.step = step;
  const order = ["photos", "reference", "result"];
  for (const li of $("steps").children) {
    const i = order.indexOf(li.dataset.step), k = order.indexOf(step);
    li.classList.toggle("active", i === k); li.classList.toggle("done", i < k);
  }
  $("panel-photos").hidden = step !== "photos";
  $("panel-reference").hidden = step === "photos";
}

function fit(w, h) {
  canvas.hidden = false; $("harm-empty").hidden = true;
  sizeStage(wrap, w, h);
  const W = wrap.clientWidth - 32, H = wrap.clientHeight - 32, s = Math.min(W / w, H / h);
  canvas.style.width = `${Math.round(w * s)}px`; canvas.style.height = `${Math.round(h * s)}px`;
  canvas.hidden = false; $("harm-empty").hidden = true;
  zoom?.apply(); compare?.placeLabels();
}

function frame() { return target ? target.photo : bg; }

// ---------------------------------------------------------------- photo pickers
async function loadPhotos(select) {
  const page = await api("/api/photos/");
  photos = page.results;
  const opts = (list) => [el("option", { value: "", text: "—" }), ...list.map((p) => el("option", { value: p.id, text: label(p) }))];
  $("pick-person").replaceChildren(...opts(photos));
  $("pick-bg").replaceChildren(...opts(photos));
  $("pick-composite").replaceChildren(...opts(photos.filter((p) => p.masks.some((m) => m.kind === "foreground"))));
  if (select) for (const [id, v] of Object.entries(select)) $(id).value = v;
}

function showPaste() {
  person = byId($("pick-person").value) || null; bg = byId($("pick-bg").value) || null;
  $("btn-paste").disabled = !(person && bg);
  if (!bg) return;
  imgBg.src = bg.urls.display; imgResult.hidden = true; fit(bg.width, bg.height); zoom.reset();
  if (person) {
    place.scale = Math.min(1, (0.8 * bg.height) / person.height);
    place.x = (bg.width - person.width * place.scale) / 2; place.y = bg.height - person.height * place.scale;
    $("scale").value = place.scale.toFixed(2);
    imgPerson.src = person.urls.display; imgPerson.hidden = false; drawPerson();
  } else imgPerson.hidden = true;
  $("harm-title").textContent = person ? `Place ${person.original_name || "the person"} on ${bg.original_name || "the background"}` : "Choose a person";
}

function drawPerson() {
  if (!bg || !person) return;
  imgPerson.style.left = `${(100 * place.x) / bg.width}%`; imgPerson.style.top = `${(100 * place.y) / bg.height}%`;
  imgPerson.style.width = `${(100 * person.width * place.scale) / bg.width}%`;
  $("out-scale").textContent = `${place.scale.toFixed(2)}×`;
}

let drag = null;
imgPerson.addEventListener("pointerdown", (e) => {
  e.preventDefault(); imgPerson.setPointerCapture(e.pointerId);
  drag = { sx: e.clientX, sy: e.clientY, x: place.x, y: place.y };
});
imgPerson.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const k = bg.width / canvas.getBoundingClientRect().width;
  place.x = drag.x + (e.clientX - drag.sx) * k; place.y = drag.y + (e.clientY - drag.sy) * k; drawPerson();
});
imgPerson.addEventListener("pointerup", () => { drag = null; });
imgPerson.addEventListener("wheel", (e) => {
  e.preventDefault();
  const old = place.scale; place.scale = Math.min(3, Math.max(0.05, old * (e.deltaY < 0 ? 1.05 : 1 / 1.05)));
  place.x += (person.width * (old - place.scale)) / 2; place.y += (person.height * (old - place.scale)) / 2;
  $("scale").value = place.scale; drawPerson();
}, { passive: false });
$("scale").addEventListener("input", () => { place.scale = Number($("scale").value); drawPerson(); });
$("pick-person").addEventListener("change", showPaste);
$("pick-bg").addEventListener("change", showPaste);

$("btn-paste").addEventListener("click", async () => {
  $("btn-paste").disabled = true; $("busy").hidden = false;
  try {
    const made = await api("/api/composites/", { method: "POST", body: { person: person.id, background: bg.id, x: place.x, y: place.y, scale: place.scale } });
    imgPerson.hidden = true;
    useTarget(made.photo, made.mask);
    toast(made.mask_source === "grabcut" ? "Person cut out automatically (faces + GrabCut)." : "Person pasted.");
  } catch (error) { if (!server.failed(error, "pasting the person")) toast(error.message, "error"); } finally { $("btn-paste").disabled = false; $("busy").hidden = true; }
});

function setMode(m) {
  mode = m;
  $("mode-paste").classList.toggle("active", m === "paste"); $("mode-composite").classList.toggle("active", m === "composite");
  $("paste-fields").hidden = m !== "paste"; $("composite-fields").hidden = m !== "composite";
}
$("mode-paste").addEventListener("click", () => setMode("paste"));
$("mode-composite").addEventListener("click", () => setMode("composite"));
$("pick-composite").addEventListener("change", () => {
  const p = byId($("pick-composite").value); if (!p) return;
  const m = p.masks.filter((k) => k.kind === "foreground").at(-1); useTarget(p, m.id);
});
// a file over the server's limit is refused here, before a byte is sent (the server checks again)
function refuseLarge(files, noteId) {
  const refusal = files.map(tooLarge).find(Boolean) || null, note = $(noteId);
  if (note) { note.hidden = !refusal; note.textContent = refusal || ""; }
  if (refusal) toast(refusal, "error");
  return refusal;
}
$("upload-any")?.addEventListener("change", async (e) => {
  const file = e.target.files[0]; if (!file) return;
  if (refuseLarge([file], "upload-error")) { e.target.value = ""; return; }
  const form = new FormData(); form.append("file", file);
  try { const p = await upload("/api/photos/", form); await loadPhotos({ "pick-person": $("pick-person").value, "pick-bg": $("pick-bg").value }); toast(`Uploaded ${label(p)}; pick it above.`); } catch (error) { toast(error.message, "error"); }
});
$("btn-upload-pair")?.addEventListener("click", async () => {
  const c = $("upload-composite").files[0], m = $("upload-mask").files[0];
  if (!c || !m) { toast("Choose the composite and its mask first.", "error"); return; }
  if (refuseLarge([c, m], "upload-pair-error")) return;
  try {
    const form = new FormData(); form.append("file", c);
    const p = await upload("/api/photos/", form);
    const mf = new FormData(); mf.append("file", m); mf.append("kind", "foreground");
    const mask = await upload(`/api/photos/${p.id}/masks/`, mf);
    await loadPhotos(); useTarget(byId(p.id) || p, mask.id);
  } catch (error) { toast(error.message, "error"); }
});

// ---------------------------------------------------------------- reference region
function useTarget(photo, maskId) {
  target = { photo, mask: maskId };
  box = null; painted = false; job = null; lastRun = null; root.dataset.job = "";
  imgBg.src = photo.urls.display; imgResult.hidden = true; imgResult.removeAttribute("src"); $("download").hidden = true;
  fit(photo.width, photo.height); zoom.reset();
  brush.width = Math.min(1600, photo.width); brush.height = Math.round((brush.width * photo.height) / photo.width);
  brush.getContext("2d").clearRect(0, 0, brush.width, brush.height);
  drawForeground(); drawBox(); syncRun();
  $("harm-title").textContent = `${photo.original_name || `Photo ${photo.id}`} · ${photo.width} × ${photo.height}`;
  setStep("reference"); describeReference(); revealStage(wrap);
}

async function drawForeground() {
  const mask = target.photo.masks?.find((m) => m.id === target.mask);
  const url = mask?.url || (await api(`/api/photos/${target.photo.id}/masks/`)).find((m) => m.id === target.mask)?.url;
  if (!url) return;
  const img = new Image(); img.src = url; await img.decode().catch(() => null);
  fgOverlay.width = brush.width; fgOverlay.height = brush.height;
  const ctx = fgOverlay.getContext("2d");
  ctx.drawImage(img, 0, 0, fgOverlay.width, fgOverlay.height);
  const d = ctx.getImageData(0, 0, fgOverlay.width, fgOverlay.height);
  for (let i = 0; i < d.data.length; i += 4) { const a = d.data[i]; d.data[i] = 250; d.data[i + 1] = 204; d.data[i + 2] = 21; d.data[i + 3] = a * 0.35; }
  ctx.putImageData(d, 0, 0); fgOverlay.hidden = !regionsOn();
}

function photoPoint(e) {
  const r = canvas.getBoundingClientRect(), p = target.photo;
  return { x: Math.min(p.width, Math.max(0, ((e.clientX - r.left) / r.width) * p.width)),
           y: Math.min(p.height, Math.max(0, ((e.clientY - r.top) / r.height) * p.height)) };
}

function drawBox() {
  boxEl.hidden = !box || !regionsOn();
  if (!box) return;
  const p = target.photo;
  Object.assign(boxEl.style, { left: `${(100 * box[0]) / p.width}%`, top: `${(100 * box[1]) / p.height}%`,
    width: `${(100 * (box[2] - box[0])) / p.width}%`, height: `${(100 * (box[3] - box[1])) / p.height}%` });
}

function paint(pt) {
  const ctx = brush.getContext("2d"), k = brush.width / target.photo.width;
  ctx.fillStyle = "rgba(56,189,248,.55)"; ctx.beginPath();
  ctx.arc(pt.x * k, pt.y * k, (Number($("brush-size").value) * brush.width) / canvas.getBoundingClientRect().width / 2, 0, Math.PI * 2);
  ctx.fill(); painted = true;
}

let down = null;
canvas.addEventListener("pointerdown", (e) => {
  if (!target || root.dataset.step === "photos" || e.target === imgPerson || !e.isPrimary) return;
  e.preventDefault(); canvas.setPointerCapture(e.pointerId);
  setRegions(true); // what is being drawn is always visible
  const pt = photoPoint(e); down = { ...pt, box };
  if (tool === "box") { box = [pt.x, pt.y, pt.x, pt.y]; drawBox(); } else paint(pt);
});
canvas.addEventListener("pointermove", (e) => {
  if (!down) return;
  const pt = photoPoint(e);
  if (tool === "box") { box = [Math.min(down.x, pt.x), Math.min(down.y, pt.y), Math.max(down.x, pt.x), Math.max(down.y, pt.y)]; drawBox(); } else paint(pt);
});
canvas.addEventListener("pointerup", () => {
  if (!down) return;
  down = null;
  if (tool === "box" && box && (box[2] - box[0] < 3 || box[3] - box[1] < 3)) { box = null; drawBox(); }
  syncRun(); describeReference();
});
// a second finger (pinch) or a pan takes over: the box being drawn goes back to what it was
const cancelDrawing = () => { if (!down) return; if (tool === "box") { box = down.box; drawBox(); } down = null; syncRun(); };

function setTool(t) {
  tool = t; $("tool-box").classList.toggle("active", t === "box"); $("tool-brush").classList.toggle("active", t === "brush");
  $("brush-size-row").hidden = t !== "brush"; canvas.classList.add("drawing");
  setRegions(true);
}
$("tool-box").addEventListener("click", () => { setTool("box"); brush.getContext("2d").clearRect(0, 0, brush.width, brush.height); painted = false; syncRun(); describeReference(); });
$("tool-brush").addEventListener("click", () => { setTool("brush"); box = null; drawBox(); syncRun(); describeReference(); });
$("tool-clear").addEventListener("click", () => { box = null; drawBox(); brush.getContext("2d").clearRect(0, 0, brush.width, brush.height); painted = false; syncRun(); describeReference(); });

// The info line always describes what is on screen: the reference being drawn, and (after a run)
// which reference the result on show used — never a box once the brush is the tool.
const regionText = (reference) => (reference?.box ? `box ${reference.box.join(", ")}` : "the painted region");
function currentReference() {
  if (tool === "brush") return painted ? { mask: "painted" } : null;
  return box ? { box: box.map((v) => Math.round(v)) } : null;
}
function describeReference() {
  const info = $("harm-info"), now = currentReference();
  const hint = tool === "brush" ? "Paint over the part of the scene the person should match." : "Drag a box over the part of the scene the person should match.";
  if (lastRun && JSON.stringify(now) === JSON.stringify(lastRun.shown)) {
    info.textContent = `Matched the person to ${regionText(lastRun.reference)} · ${lastRun.seconds.toFixed(1)} s`;
  } else if (lastRun) {
    info.textContent = `The result on show matched ${regionText(lastRun.reference)}. ${now ? `Press Harmonize to match ${regionText(now)} instead.` : hint}`;
  } else {
    info.textContent = now ? `Reference: ${regionText(now)}. Press Harmonize.` : hint;
  }
}
$("brush-size").addEventListener("input", () => { $("out-brush").textContent = `${$("brush-size").value} px`; });
$("strength").addEventListener("input", () => { $("out-strength").textContent = Number($("strength").value).toFixed(2); });
function syncRun() { $("btn-run").disabled = !target || !(box || painted); }

async function brushMask() {
  const p = target.photo, full = document.createElement("canvas");
  full.width = p.width; full.height = p.height;
  const ctx = full.getContext("2d");
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, p.width, p.height);
  // the painted strokes become white (alpha → luminance)
  const tmp = document.createElement("canvas"); tmp.width = brush.width; tmp.height = brush.height;
  const t = tmp.getContext("2d"); t.drawImage(brush, 0, 0); t.globalCompositeOperation = "source-in"; t.fillStyle = "#fff"; t.fillRect(0, 0, tmp.width, tmp.height);
  ctx.drawImage(tmp, 0, 0, p.width, p.height);
  const blob = await new Promise((r) => full.toBlob(r, "image/png"));
  const form = new FormData(); form.append("file", blob, "reference.png"); form.append("kind", "reference");
  return (await upload(`/api/photos/${p.id}/masks/`, form)).id;
}

$("btn-run").addEventListener("click", async () => {
  $("btn-run").disabled = true; $("busy").hidden = false; $("harm-info").textContent = "Harmonizing…";
  const started = performance.now();
  try {
    const reference = tool === "brush" && painted ? { mask: await brushMask() } : { box: box.map((v) => Math.round(v)) };
    const created = await api("/api/jobs/", { method: "POST", body: { engine: "harmonize", inputs: { photo: target.photo.id, mask: target.mask, reference }, params: { strength: Number($("strength").value) }, output_format: $("output-format").value } });
    job = { id: created.id, started, reference, shown: currentReference() };
    root.dataset.job = created.id;
    jobs ??= socket("/ws/jobs/", (m) => m.type === "job" && m.id === job?.id && onJob(m));
    const poll = async () => { if (!job || job.id !== created.id) return; const j = await api(`/api/jobs/${created.id}/`).catch(() => null); if (j) onJob(j); if (job?.id === created.id) setTimeout(poll, 1200); };
    setTimeout(poll, 1200);
  } catch (error) {
    server.failed(error, "harmonizing");
    const message = sentence(error, "start harmonizing");
    toast(message, "error"); $("busy").hidden = true; syncRun(); $("harm-info").textContent = message;
  }
});

function onJob(j) {
  if (!job || j.id !== job.id || !["succeeded", "failed", "cancelled"].includes(j.status)) return;
  const done = job; job = null; $("busy").hidden = true; syncRun();
  if (j.status !== "succeeded") { toast(j.error || `The job ${j.status}.`, "error"); $("harm-info").textContent = j.error || ""; return; }
  const out = j.outputs.find((o) => o.name === "image");
  imgResult.src = out.url; imgResult.hidden = false; root.dataset.resultUrl = out.url;
  setDownload($("download"), out.url, downloadName(target.photo.original_name, "harmonized", out.url));
  lastRun = { reference: done.reference, shown: done.shown, seconds: (performance.now() - done.started) / 1000 };
  describeReference();
  compare.setMode("after"); setStep("result"); revealStage(wrap);
}

// ---------------------------------------------------------------- views
const regionsOn = () => $("view-regions").classList.contains("active");
function setRegions(on) {
  $("view-regions").classList.toggle("active", on); $("view-regions").setAttribute("aria-pressed", String(on));
  fgOverlay.hidden = !on || !target; brush.style.visibility = on ? "visible" : "hidden"; drawBox();
}
$("view-regions").addEventListener("click", () => setRegions(!regionsOn()));
$("btn-restart").addEventListener("click", () => { target = null; lastRun = null; canvas.hidden = true; $("harm-empty").hidden = false; wrap.style.height = ""; setStep("photos"); showPaste(); });
window.addEventListener("resize", () => { const f = frame(); if (f && !canvas.hidden) fit(f.width, f.height); });
blurSlidersOnRelease(root);
const zoom = zoomPan({ wrap, canvas, imageWidth: () => frame()?.width, onGesture: cancelDrawing });
const server = serverWatch(wrap);
const compare = compareControl({ canvas, group: $("compare"), wrap });

loadPhotos().catch((error) => toast(error.message, "error"));
