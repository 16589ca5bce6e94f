// Study setup: protocol, methods, items (zip upload, or engines run over a photo group). The study's
// WebSocket says when something changed (items built as their engine jobs finish, participants,
// votes); the page then re-fetches what it shows.
import { api, el, socket, toast, upload } from "./api.js";

const id = document.getElementById("setup-script").dataset.study;
const form = document.getElementById("settings");
let study = null;
const NUMBERS = ["rank_k", "participants_wanted", "recruit_margin", "trials_per_participant", "practice_trials", "attention_every",
  "min_width", "min_height", "min_view_ms", "speeder_ms", "attention_threshold", "straightline_share"];
const BOOLEANS = ["allow_tie", "exclude_flagged", "prolific_redirect"];

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
  document.getElementById("thumbs").replaceChildren(...study.items.slice(0, 60).map((it) =>
    el("img", { src: `/api/studies/${id}/images/0/?item=${it.id}`, alt: it.name, title: it.name, loading: "lazy" })));
}

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
