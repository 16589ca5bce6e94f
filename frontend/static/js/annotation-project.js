// A project for its researcher (and, read-only, its reviewers): assignments per group and slot,
// progress per expert, agreement, freeze and export with live progress over
// /ws/annotation/projects/<id>/.
import { api, el, socket, toast } from "./api.js";
import { LABELS, STATE_LABELS } from "./annotation-common.js";
import { liveValidate, readSettings } from "./annotation-settings.js";

const root = document.getElementById("ann-project");
const id = root.dataset.project;
const owner = root.dataset.owner === "1";
const P = `/api/annotation/projects/${id}`;
const $ = (x) => document.getElementById(x);
let project = null;

const fmt = (v, digits = 2) => (v === null || v === undefined ? "–"
  : (Math.abs(v) < 0.5 * 10 ** -digits ? 0 : Number(v)).toFixed(digits)); // no "-0.00"
const minutes = (s) => (s < 60 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

function select(people, current, label) {
  const s = el("select", { class: "assign-select", "aria-label": label });
  s.append(el("option", { value: "", text: `— ${label} —` }));
  for (const p of people) {
    const o = el("option", { value: p.id, text: p.username });
    if (p.username === current) o.selected = true;
    s.append(o);
  }
  s.dataset.initial = s.value;
  return s;
}

function assignmentCell(a) {
  const cell = el("td", { "data-assignment": a.id, "data-state": a.state });
  cell.append(el("div", {}, el("span", { class: "state-pill light", "data-state": a.state, text: STATE_LABELS[a.state] }),
    el("span", { class: "muted small", text: ` round ${a.round}` })));
  if (owner && ["queued", "in_progress", "changes_requested"].includes(a.state)) {
    const expert = select(project.people.expert, a.expert, "expert");
    const reviewer = select(project.people.reviewer, a.reviewer, "reviewer");
    const go = el("button", { class: "button ghost small", type: "button", text: a.state === "queued" ? "Assign" : "Reassign" });
    go.addEventListener("click", async () => {
      try {
        await api(`/api/annotation/assignments/${a.id}/assign/`, { method: "POST",
          body: { expert: Number(expert.value) || null, ...(reviewer.value ? { reviewer: Number(reviewer.value) } : {}) } });
        await load();
      } catch (error) { toast(error.message, "error"); }
    });
    cell.append(el("div", { class: "panel-actions" }, expert, reviewer, go));
  } else {
    cell.append(el("div", { class: "small", text: `${a.expert || "unassigned"}${a.reviewer ? ` · reviewer ${a.reviewer}` : ""}` }));
  }
  const links = el("div", { class: "panel-actions" });
  if (["in_review", "changes_requested", "accepted", "frozen"].includes(a.state)) {
    links.append(el("a", { class: "small", href: `/annotation/assignments/${a.id}/review/`, text: "Compare slots" }));
  }
  if (owner && ["in_review", "changes_requested", "accepted"].includes(a.state)) {
    const reopen = el("button", { class: "link-button small", type: "button", text: "Reopen" });
    reopen.addEventListener("click", async () => {
      try { await api(`/api/annotation/assignments/${a.id}/reopen/`, { method: "POST" }); await load(); } catch (error) { toast(error.message, "error"); }
    });
    links.append(reopen);
  }
  cell.append(links);
  return cell;
}

// Choices made in a cell's selects but not sent yet, so a re-render (a push from another
// assignment) does not wipe what the researcher is in the middle of choosing.
function pendingChoices(table) {
  const kept = new Map();
  for (const cell of table.querySelectorAll("td[data-assignment]")) {
    const selects = [...cell.querySelectorAll("select")];
    if (selects.some((s) => s.value !== s.dataset.initial)) kept.set(cell.dataset.assignment, selects.map((s) => s.value));
  }
  return kept;
}

function restoreChoices(table, kept) {
  for (const [id, values] of kept) {
    const selects = table.querySelectorAll(`td[data-assignment="${id}"] select`);
    selects.forEach((s, i) => { if ([...s.options].some((o) => o.value === values[i])) s.value = values[i]; });
  }
}

function renderAssignments() {
  const slots = project.slots;
  const table = $("assignments");
  const kept = pendingChoices(table);
  table.replaceChildren(el("thead", {}, el("tr", {}, el("th", { text: "Group" }), ...slots.map((s) => el("th", { text: `Slot ${s}` })))));
  const body = el("tbody");
  for (const g of project.groups) {
    const row = el("tr", {}, el("td", {}, el("strong", { text: g.name }), el("div", { class: "muted small", text: `group ${g.index}` })));
    for (const s of slots) {
      const a = project.assignments.find((x) => x.group === g.index && x.slot === s);
      row.append(a ? assignmentCell(a) : el("td", { class: "muted", text: "–" }));
    }
    body.append(row);
  }
  table.append(body);
  restoreChoices(table, kept);
  const counts = {};
  for (const a of project.assignments) counts[a.state] = (counts[a.state] || 0) + 1;
  $("stats").replaceChildren(...["queued", "in_progress", "in_review", "accepted"].map((s) =>
    el("div", { class: "stat" }, el("div", { class: "value", text: String((counts[s] || 0) + (s === "accepted" ? counts.frozen || 0 : 0) + (s === "in_progress" ? counts.changes_requested || 0 : 0)) }),
      el("div", { class: "label", text: s === "accepted" ? "Accepted / frozen" : s === "in_progress" ? "Being edited" : STATE_LABELS[s] }))));
  $("dataset-version").textContent = project.dataset_version;
  const freeze = $("freeze");
  if (freeze) freeze.disabled = !project.assignments.some((a) => a.state === "accepted");
}

async function renderDashboard() {
  if (!owner) return;
  const dash = await api(`${P}/dashboard/`);
  const table = $("experts");
  table.replaceChildren(el("thead", {}, el("tr", {}, ...["Expert", "Assignments", "Accepted", "First pass", "Active time", "Open issues"]
    .map((t, i) => el("th", { class: i ? "num" : "", text: t })))));
  const body = el("tbody");
  for (const e of dash.experts) {
    body.append(el("tr", {}, el("td", { text: e.expert }), el("td", { class: "num", text: String(e.assignments) }),
      el("td", { class: "num", text: String(e.accepted) }),
      el("td", { class: "num", text: e.first_pass_acceptance === null ? "–" : `${Math.round(e.first_pass_acceptance * 100)} %` }),
      el("td", { class: "num", text: minutes(e.active_seconds) }), el("td", { class: "num", text: String(e.issues_open) })));
  }
  table.append(body);
  // Per group and slot: active editing time, first pass and open issues under each assignment.
  for (const row of dash.rows) {
    const cell = document.querySelector(`#assignments td[data-assignment="${row.assignment}"]`);
    if (!cell || !row.expert) continue;
    const bits = [`${minutes(row.active_seconds)} active`, `${row.photos_edited}/${row.photos} edited`];
    if (row.first_pass !== null) bits.push(row.first_pass ? "accepted first pass" : "sent back");
    if (row.issues_open) bits.push(`${row.issues_open} open issue${row.issues_open > 1 ? "s" : ""}`);
    cell.append(el("div", { class: "muted small progress-line", text: bits.join(" · ") }));
  }
}

async function renderAgreement() {
  const r = await api(`${P}/agreement/`);
  const icc = $("icc");
  icc.replaceChildren(el("thead", {}, el("tr", {}, el("th", { text: "Slider" }), el("th", { class: "num", text: "ICC(A,1)" }),
    el("th", { class: "num", text: "ICC(C,1)" }), ...r.slots.map((s) => el("th", { class: "num", text: `offset ${s}` })))));
  const body = el("tbody");
  for (const [name, v] of Object.entries(r.icc)) {
    if (v.icc_a1 === null && !v.n) continue;
    if (v.unused) {
      body.append(el("tr", { class: "muted" }, el("td", { text: LABELS[name] || name }),
        el("td", { class: "num", colspan: String(2 + r.slots.length), text: "not used by any expert" })));
      continue;
    }
    const bar = el("span", { class: "icc-bar", style: `width:${Math.max(0, (v.icc_a1 || 0) * 60)}px` });
    body.append(el("tr", {}, el("td", { text: LABELS[name] || name }), el("td", { class: "num" }, bar, ` ${fmt(v.icc_a1)}`),
      el("td", { class: "num", text: fmt(v.icc_c1) }),
      ...r.slots.map((s) => el("td", { class: "num", text: v.style_offsets ? fmt(v.style_offsets[s], 2) : "–" }))));
  }
  icc.append(body);
  $("delta-e").replaceChildren(el("thead", {}, el("tr", {}, el("th", { text: "Slots" }), el("th", { class: "num", text: "ΔE76" }), el("th", { class: "num", text: "ΔE^HC" }))),
    el("tbody", {}, ...r.delta_e.map((d) => el("tr", {}, el("td", { text: d.slots.join(" ↔ ") }), el("td", { class: "num", text: fmt(d.delta_e76) }), el("td", { class: "num", text: fmt(d.delta_e_hc) })))));
  $("glc").replaceChildren(el("thead", {}, el("tr", {}, el("th", { text: "M_GLC" }), ...r.slots.map((s) => el("th", { class: "num", text: s })))),
    el("tbody", {}, ...r.glc.groups.map((g) => el("tr", {}, el("td", { text: g.name }), ...r.slots.map((s) => el("td", { class: "num", text: fmt(g[s], 1) })))),
      el("tr", {}, el("td", {}, el("strong", { text: "project" })), ...r.slots.map((s) => el("td", { class: "num" }, el("strong", { text: fmt(r.glc.project[s], 1) }))))));
  $("self").textContent = r.self_consistency.length
    ? `Self-consistency on ${r.self_consistency.length} hidden duplicate(s): mean ΔE76 ${fmt(r.self_consistency.reduce((s, x) => s + (x.delta_e76 || 0), 0) / r.self_consistency.length)}`
    : "No hidden duplicates in this project.";
}

function renderExports() {
  if (!owner) return;
  $("exports").replaceChildren(...(project.exports || []).map((x) => el("li", {},
    `v${x.dataset_version} · ${x.sizes.join(", ")} · ${x.status}${x.files ? ` · ${x.files} files` : ""} `,
    ...(x.url ? [el("a", { href: x.url, text: "download" })] : []))));
}

function onEvent(event) {
  if (event.event === "export") {
    $("export-progress").hidden = event.status === "succeeded" || event.status === "failed";
    $("export-bar").style.width = `${Math.round(event.progress * 100)}%`;
    if (event.status === "succeeded") {
      const link = $("export-link");
      link.href = event.url; link.hidden = false; link.textContent = "Download the dataset (.zip)";
      root.dataset.exported = event.url;
      load();
    } else if (event.status === "failed") toast(event.error || "The export failed.", "error");
  } else if (event.event === "assignment" || event.event === "frozen") {
    load();
  }
}

async function load() {
  project = await api(`${P}/`);
  renderAssignments();
  renderExports();
  await Promise.all([renderDashboard(), renderAgreement()]);
  root.dataset.loaded = String(Number(root.dataset.loaded || 0) + 1);
}

$("freeze")?.addEventListener("click", async () => {
  try {
    const p = await api(`${P}/freeze/`, { method: "POST" });
    toast(`Frozen as dataset version ${p.dataset_version}.`);
    await load();
  } catch (error) { toast(error.message, "error"); }
});
$("export")?.addEventListener("click", async () => {
  const sizes = [["360p", "size-360p"], ["full", "size-full"]].filter(([, box]) => $(box).checked).map(([s]) => s);
  try {
    await api(`${P}/export/`, { method: "POST", body: { sizes } });
    $("export-progress").hidden = false; $("export-bar").style.width = "0%"; $("export-link").hidden = true;
  } catch (error) { toast(error.message, "error"); }
});

const settingsForm = $("settings-form");
if (settingsForm) {
  liveValidate(settingsForm);
  settingsForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { body, errors } = readSettings(settingsForm);
    const state = $("settings-state");
    if (errors.length) { state.textContent = "Not saved: fix the marked fields."; settingsForm.querySelector("[aria-invalid=true]")?.focus(); return; }
    try {
      const p = await api(`${P}/`, { method: "PATCH", body });
      state.textContent = `Saved: M_GLC ≤ ${p.qa.max_glc}, clipping ≤ ${+(p.qa.max_clipped_fraction * 100).toFixed(2)} %, sliders < ${+(p.qa.extreme_fraction * 100).toFixed(1)} % of range, ${p.max_rounds} round${p.max_rounds > 1 ? "s" : ""}.`;
      root.dataset.settingsSaved = String(Number(root.dataset.settingsSaved || 0) + 1);
    } catch (error) { state.textContent = error.message; toast(error.message, "error"); }
  });
}

socket(`/ws/annotation/projects/${id}/`, onEvent, { onOpen: () => { root.dataset.socket = "open"; } });
load().catch((error) => toast(error.message, "error"));
