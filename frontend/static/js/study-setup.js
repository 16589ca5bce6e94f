import { api, el, toast, upload } from "./api.js";

const id = document.getElementById("setup-script").dataset.study;
const form = document.getElementById("settings");
let study = null;
const NUMBERS = ["rank_k", "participants_wanted", "trials_per_participant", "practice_trials", "attention_every", "min_width", "min_height"];

function render() {
  document.getElementById("study-title").textContent = study.title;
  const pill = document.getElementById("study-status");
  pill.textContent = study.status; pill.className = `status-pill ${study.status}`;
  const s = study.summary;
  document.getElementById("study-summary").textContent = `${s.participants} participants · ${s.responses} responses · ${s.items} items · ${s.methods} methods`;
  document.getElementById("share-link").value = `${location.origin}${study.share_path}`;
  document.getElementById("toggle-open").textContent = study.status === "open" ? "Close study" : "Open study";
  for (const field of form.elements) {
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

async function load() { study = await api(`/api/studies/${id}/`); render(); }

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {};
  for (const [k, v] of new FormData(form)) body[k] = NUMBERS.includes(k) ? Number(v) : k === "attention_threshold" ? Number(v) : k === "allow_tie" ? v === "true" : v;
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

load().catch((err) => toast(err.message, "error"));
