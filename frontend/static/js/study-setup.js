// Study setup: protocol, methods, items (zip upload, one item at a time, or engines run over a photo
// group; each item previewed by method, deletable until the study opens). The study's
// WebSocket says when something changed (items built as their engine jobs finish, participants,
// votes); the page then re-fetches what it shows.
import { api, el, socket, toast, upload } from "./api.js";

const id = document.getElementById("setup-script").dataset.study;
const form = document.getElementById("settings");
let study = null;
const NUMBERS = ["rank_k", "participants_wanted", "recruit_margin", "trials_per_participant", "practice_trials", "attention_every",
  "min_width", "min_height", "min_view_ms", "speeder_ms", "attention_threshold", "straightline_share", "gap_ms"];
const BOOLEANS = ["allow_tie", "exclude_flagged", "prolific_redirect", "fullscreen", "questionnaire"];

// form: false leaves the protocol form alone (a live refresh must not undo what is being typed).
function render({ form: fields = true } = {}) {
  document.getElementById("study-title").textContent = study.title;
  const pill = document.getElementById("study-status");
  pill.textContent = study.status; pill.className = `status-pill ${study.status}`;
  const s = study.summary;
  document.getElementById("study-summary").textContent = `${s.participants} participants · ${s.responses} responses · ${s.items} items · ${s.methods} methods`;
  document.getElementById("share-link").value = `${location.origin}${study.share_path}`;
  document.getElementById("toggle-open").textContent = study.status === "open" ? "Close study" : "Open study";
  for (const field of fields ? form.elements : []) {
    if (!field.name || !(field.name in study)) continue;
    field.value = String(study[field.name]);
  }
  document.getElementById("methods").replaceChildren(...study.methods.map((m) => el("span", { class: "chip", text: m.name })));
  const counts = {};
  for (const it of study.items) counts[it.subset || "all"] = (counts[it.subset || "all"] || 0) + 1;
  document.getElementById("subsets").replaceChildren(...Object.entries(counts).map(([k, v]) => el("span", { class: "chip", text: `${k}: ${v} items` })));
  document.getElementById("items-hint").textContent = study.items.length ? "Choose an item to see it by method." : "No items yet.";
  renderThumbs();
  renderItemForm();
}

// ---- items: thumbnails (the input), a preview of one item by method, deletion, one-item upload
const thumbs = document.getElementById("thumbs");
const itemsFrozen = () => (study.status === "open" ? "The study is open: close it to delete items."
  : study.joined ? "Participants have joined: items are frozen." : "");

function renderThumbs() {
  const signature = `${study.methods.length};${study.items.map((it) => `${it.id}:${Object.keys(it.outputs).length}`).join(",")}`;
  if (thumbs.dataset.signature === signature) return;  // unchanged: keep the loaded images
  thumbs.dataset.signature = signature;
  thumbs.replaceChildren(...study.items.map((it, k) => {
    const missing = study.methods.length - Object.keys(it.outputs).length;
    return el("button", { type: "button", class: "thumb", role: "listitem", "data-item": it.id, title: it.name,
      "aria-label": `${it.name}${it.subset ? ` (${it.subset})` : ""}: preview by method` },
    el("img", { src: `/api/studies/${id}/images/0/?item=${it.id}`, alt: "", loading: "lazy" }),
    el("span", { class: "thumb-name", text: it.name }),
    missing > 0 ? el("span", { class: "flag", text: `${missing} missing` }) : "");
  }));
  thumbs.querySelectorAll(".thumb").forEach((b, k) => b.addEventListener("click", () => openPreview(k)));
}

const preview = document.getElementById("item-preview");
let previewIndex = -1;

async function openPreview(index) {
  const it = study.items[index];
  if (!it) return;
  previewIndex = index;
  document.getElementById("preview-position").textContent = `Item ${index + 1} of ${study.items.length}`;
  document.getElementById("preview-title").textContent = it.name;
  document.getElementById("preview-subset").textContent = it.subset ? `Subset ${it.subset}` : "No subset";
  const frozen = itemsFrozen();
  document.getElementById("preview-frozen").textContent = frozen;
  document.getElementById("preview-delete").disabled = Boolean(frozen);
  document.getElementById("preview-prev").disabled = index === 0;
  document.getElementById("preview-next").disabled = index === study.items.length - 1;
  const grid = document.getElementById("preview-grid");
  const figure = (label, src, method) => el("figure", { class: "preview-fig", ...(method ? { "data-method": method } : {}) },
    el("a", { href: src, target: "_blank", rel: "noopener", title: "Open at full size" }, el("img", { src, alt: `${it.name}: ${label}` })),
    el("figcaption", { text: label }));
  grid.replaceChildren(figure("Input", `/api/studies/${id}/images/0/?item=${it.id}`),
    ...study.methods.map((m) => (m.name in it.outputs ? figure(m.name, `/api/studies/${id}/images/${it.outputs[m.name]}/`, m.name)
      : el("figure", { class: "preview-fig missing", "data-method": m.name }, el("div", { class: "preview-missing", text: "no output" }), el("figcaption", { text: m.name })))));
  if (!preview.open) preview.showModal();
}

document.getElementById("preview-close").addEventListener("click", () => preview.close());
document.getElementById("preview-prev").addEventListener("click", () => openPreview(previewIndex - 1));
document.getElementById("preview-next").addEventListener("click", () => openPreview(previewIndex + 1));
preview.addEventListener("click", (e) => { if (e.target === preview) preview.close(); });  // the backdrop
preview.addEventListener("keydown", (e) => {
  if (e.key === "ArrowLeft" && previewIndex > 0) { e.preventDefault(); openPreview(previewIndex - 1); }
  if (e.key === "ArrowRight" && previewIndex < study.items.length - 1) { e.preventDefault(); openPreview(previewIndex + 1); }
});
preview.addEventListener("close", () => thumbs.querySelector(`[data-item="${study.items[previewIndex]?.id}"]`)?.focus());

document.getElementById("preview-delete").addEventListener("click", async () => {
  const it = study.items[previewIndex];
  if (!it || !confirm(`Delete item “${it.name}” and its ${Object.keys(it.outputs).length} output(s)? This cannot be undone.`)) return;
  try {
    await api(`/api/studies/${id}/items/${it.id}/`, { method: "DELETE" });
    toast(`Item ${it.name} deleted.`);
    const next = Math.min(previewIndex, study.items.length - 2);
    await load({ form: false });
    if (next >= 0) openPreview(next); else preview.close();
  } catch (err) { toast(err.message, "error"); }
});

const itemForm = document.getElementById("item-form");
const ITEM_NOTE = document.getElementById("item-form-note").textContent;
function renderItemForm() {
  const box = document.getElementById("item-form-methods");
  const names = study.methods.map((m) => m.name);
  const frozen = study.joined ? "Participants have joined: items are frozen." : "";
  document.getElementById("item-submit").disabled = !names.length || Boolean(frozen);
  document.getElementById("item-form-note").textContent = frozen || ITEM_NOTE;
  const have = [...box.querySelectorAll("input[type=file]")].map((i) => i.dataset.method);
  if (have.length === names.length && have.every((n, k) => n === names[k])) return;  // keep chosen files
  box.replaceChildren(...(names.length ? names.map((n) => el("label", {}, `Output of ${n}`,
    el("input", { type: "file", name: `output:${n}`, "data-method": n, accept: "image/jpeg,image/png,image/tiff", required: "" })))
    : [el("p", { class: "muted small", text: "Add the study's methods first: the item needs one output per method." })]));
}

itemForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = document.getElementById("item-submit");
  const data = new FormData(itemForm);
  button.disabled = true; button.textContent = "Adding…";
  try {
    const item = await upload(`/api/studies/${id}/items/`, data, (f) => { button.textContent = `Adding… ${Math.round(100 * f)}%`; });
    toast(`Item ${item.name} added.`);
    itemForm.reset();
    await load({ form: false });
    openPreview(study.items.findIndex((it) => it.id === item.id));
  } catch (err) { toast(err.message, "error"); }
  button.textContent = "Add item";
  renderItemForm();
});

async function load(options) { study = await api(`/api/studies/${id}/`); render(options); }

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {};
  for (const [k, v] of new FormData(form)) body[k] = NUMBERS.includes(k) ? Number(v) : BOOLEANS.includes(k) ? v === "true" : v;
  try { study = await api(`/api/studies/${id}/`, { method: "PATCH", body }); render(); toast("Protocol saved."); }
  catch (err) { toast(err.message, "error"); }
});

document.getElementById("add-method").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = e.target.elements.name.value.trim();
  if (!name) return;
  try { await api(`/api/studies/${id}/methods/`, { method: "POST", body: { name } }); e.target.reset(); await load(); }
  catch (err) { toast(err.message, "error"); }
});

document.getElementById("toggle-open").addEventListener("click", async () => {
  try {
    study = await api(`/api/studies/${id}/status/`, { method: "POST", body: { status: study.status === "open" ? "closed" : "open" } });
    render();
  } catch (err) { toast(err.message, "error"); }
});

document.getElementById("copy-link").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText(document.getElementById("share-link").value); toast("Link copied."); } catch { /* ignore */ }
});

async function sendZip(file) {
  const data = new FormData();
  data.append("archive", file);
  try {
    const res = await upload(`/api/studies/${id}/import/`, data, () => {});
    toast(`${res.added} item(s) added.`);
    study = res.study; render();
  } catch (err) { toast(err.message, "error"); }
}
const drop = document.getElementById("zip-drop");
document.getElementById("zip-input").addEventListener("change", (e) => e.target.files[0] && sendZip(e.target.files[0]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) sendZip(e.dataTransfer.files[0]); });

// ---- items from engines: jobs per photo of a group × engine setting; the server builds each
// photo's item when its jobs have finished and tells this page over the study's socket
const PRESETS = [
  { engine: "retouch.auto", name: "retouch.auto", params: {} },
  { engine: "adjust", name: "adjust +0.5 EV", params: { exposure: 0.5 } },
];
const fjRows = document.getElementById("fj-rows");
let fjEngines = [];

function fjRow(preset) {
  const engine = el("select", { "aria-label": "Engine" }, ...fjEngines.map((e) => el("option", { value: e.name, text: e.name })));
  engine.value = preset.engine;
  const name = el("input", { "aria-label": "Method name", placeholder: "Method name", value: preset.name });
  const params = el("input", { class: "fj-params", "aria-label": "Parameters (JSON)", placeholder: 'Parameters, e.g. {"exposure": 0.5}', value: JSON.stringify(preset.params), title: "Engine parameters (JSON)" });
  const remove = el("button", { class: "button ghost small", type: "button", text: "Remove", title: "Remove this setting" });
  const row = el("div", { class: "fj-row" }, engine, name, remove, params);
  engine.addEventListener("change", () => { if (!name.value || fjEngines.some((e) => e.name === name.value)) name.value = engine.value; });
  remove.addEventListener("click", () => row.remove());
  fjRows.append(row);
}

function fjRender(s) {
  const total = Object.values(s.jobs).reduce((a, b) => a + b, 0);
  const text = document.getElementById("fj-status");
  if (!total) { text.textContent = "No engine jobs yet."; return; }
  const finished = (s.jobs.succeeded || 0) + (s.jobs.failed || 0) + (s.jobs.cancelled || 0);
  text.textContent = `${finished} / ${total} jobs finished (${s.jobs.running || 0} running) · ${s.photos.added} item(s) added · `
    + `${s.photos.waiting} waiting · ${s.photos.failed} failed${s.done ? "" : " — running…"}`;
  document.getElementById("fj-failures").replaceChildren(...s.failures.slice(0, 5).map((f) =>
    el("li", { text: `photo ${f.photo}, ${f.method}: ${f.error || f.status}` })));
}

async function fjRefresh() {
  const s = await api(`/api/studies/${id}/items/from-jobs/`);
  fjRender(s);
  return s;
}

// Something changed (or the socket (re)connected and may have missed it): re-fetch progress and study.
async function refresh() {
  try { await Promise.all([fjRefresh(), load({ form: false })]); }
  catch (err) { toast(err.message, "error"); }
}
async function fjLoad() {
  const [groups, engines, status] = await Promise.all([
    api("/api/groups/"), api("/api/engines/"), api(`/api/studies/${id}/items/from-jobs/`)]);
  fjEngines = engines.filter((e) => e.inputs.length === 1 && e.inputs[0] === "image" && e.outputs.includes("image")
    && !e.name.startsWith("diagnostics."));
  const select = document.getElementById("fj-group");
  const list = groups.results || groups;
  select.replaceChildren(...(list.length ? list.map((g) => el("option", { value: g.id, text: `${g.name} (${g.photo_count} photos)` }))
    : [el("option", { value: "", text: "No photo groups yet" })]));
  for (const preset of PRESETS) if (fjEngines.some((e) => e.name === preset.engine)) fjRow(preset);
  fjRender(status);
}

document.getElementById("fj-add").addEventListener("click", () => fjRow({ engine: fjEngines[0]?.name || "", name: "", params: {} }));
document.getElementById("fj-run").addEventListener("click", async () => {
  const group = Number(document.getElementById("fj-group").value);
  if (!group) { toast("Choose a photo group first.", "error"); return; }
  const methods = [];
  for (const row of fjRows.querySelectorAll(".fj-row")) {
    const [engine, name, params] = row.querySelectorAll("select, input");
    let parsed;
    try { parsed = JSON.parse(params.value || "{}"); params.classList.remove("bad"); }
    catch { params.classList.add("bad"); toast(`Parameters of ${name.value || engine.value} are not valid JSON.`, "error"); return; }
    methods.push({ engine: engine.value, name: name.value.trim() || engine.value, params: parsed });
  }
  if (!methods.length) { toast("Add at least one engine setting.", "error"); return; }
  try {
    const s = await api(`/api/studies/${id}/items/from-jobs/`, { method: "POST", body: { group, methods } });
    toast(`${s.jobs_created} job(s) started.`);
    fjRender(s);
    await load({ form: false });
  } catch (err) { toast(err.message, "error"); }
});

load().catch((err) => toast(err.message, "error"));
fjLoad().catch((err) => toast(err.message, "error"));
socket(`/ws/studies/${id}/`, (msg) => { if (msg.type === "study") refresh(); }, { onOpen: refresh });
