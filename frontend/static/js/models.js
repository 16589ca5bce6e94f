// The model registry's pages: /models/ (train a model, every engine version) and /models/<id>/ (live
// loss curve from the training job's events on /ws/jobs/, held-out metrics, compare two versions,
// "Compare in a study", provenance). Everything arrives pushed; nothing polls.
import { api, socket, toast, upload } from "./api.js";
import { tooLarge } from "./upload-limit.js";

const $ = (id) => document.getElementById(id);
const script = $("models-script");
const runId = Number(script.dataset.run) || null;
const METRICS = [["psnr", "PSNR", "dB", true], ["delta_e", "ΔE76", "", false], ["psnr_hc", "PSNR^HC", "dB", true],
  ["delta_e_hc", "ΔE^HC", "", false], ["ssim", "SSIM", "", true], ["glc", "M_GLC", "", false]];
const FINISHED = ["succeeded", "failed", "cancelled"];

const fmt = (v, digits = 2) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(digits));
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const duration = (s) => {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  const two = (n) => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}h ${two(Math.floor((s % 3600) / 60))}m` : s >= 60 ? `${Math.floor(s / 60)}m ${two(s % 60)}s` : `${s} s`;
};

// ---------------------------------------------------------------------------------------- index page
// The Dataset choice holds frozen dataset versions (value: the project's id) and uploaded zips
// (value: "upload:<id>"); the train request sends {"dataset": id} or {"upload": id} accordingly.
const UPLOAD = "upload:";

async function indexPage() {
  const [datasets, models] = await Promise.all([api("/api/models/datasets/"), api("/api/models/")]);
  const dsSelect = $("tf-dataset"), modelSelect = $("tf-model"), expertSelect = $("tf-expert");
  for (const m of models.trainable) modelSelect.append(el("option", { value: m, text: m }));
  const uploads = [...(datasets.uploads || [])];
  const versions = el("optgroup", { label: "Frozen dataset versions" },
    ...datasets.results.map((d) => el("option", { value: d.id, text: `${d.title} · version ${d.dataset_version}` })));
  const zips = el("optgroup", { label: "Uploaded zips" });
  const uploadOption = (u) => el("option", { value: `${UPLOAD}${u.id}`, text: `${u.name} · ${u.counts?.train ?? "?"} train photos` });
  zips.append(...uploads.map(uploadOption));
  const slots = () => {
    const value = dsSelect.value;
    const chosen = value.startsWith(UPLOAD) ? uploads.find((u) => `${UPLOAD}${u.id}` === value)?.experts
      : datasets.results.find((x) => String(x.id) === value)?.slots;
    expertSelect.replaceChildren(...(chosen || []).map((s) => el("option", { value: s, text: `slot ${s}` })));
  };
  const fill = () => {  // only the groups that have something; a placeholder when neither has
    const groups = [versions, zips].filter((g) => g.children.length);
    dsSelect.replaceChildren(...(groups.length ? groups : [el("option", { value: "", text: "No frozen dataset yet" })]));
    $("tf-start").disabled = !groups.length;
    slots();
  };
  dsSelect.addEventListener("change", slots);
  fill();

  const startTraining = async () => {
    $("tf-error").hidden = true;
    $("tf-start").disabled = $("up-train").disabled = true;
    const value = dsSelect.value;
    const data = value.startsWith(UPLOAD) ? { upload: Number(value.slice(UPLOAD.length)) } : { dataset: Number(value) };
    try {
      const run = await api("/api/models/train/", { method: "POST", body: {
        ...data, model: modelSelect.value, expert: expertSelect.value,
        steps: Number($("tf-steps").value), seed: Number($("tf-seed").value) } });
      location.href = run.url;
    } catch (err) {
      $("tf-error").textContent = err.message;
      $("tf-error").hidden = false;
      $("tf-start").disabled = $("up-train").disabled = false;
    }
  };
  $("train-form").addEventListener("submit", (e) => { e.preventDefault(); startTraining(); });
  uploadControl((u) => {
    uploads.push(u);
    const option = uploadOption(u);
    zips.append(option);
    fill();
    dsSelect.value = option.value;  // the form now shows (and trains on) this upload's slots
    slots();
  }, startTraining);
  renderTable(models.results);
}

// Choose a zip, send it with progress, show the server's sentence on a refusal; on success the
// upload joins the Dataset choice and "Train on this upload" starts the job as the form does.
function uploadControl(onUploaded, startTraining) {
  const file = $("up-file"), send = $("up-send"), bar = $("up-bar"), meter = $("up-progress");
  const status = $("up-status"), error = $("up-error"), done = $("up-done");
  const setProgress = (f) => {
    const pct = Math.round(100 * f);
    bar.style.width = `${pct}%`;
    meter.setAttribute("aria-valuenow", String(pct));
    status.textContent = f < 1 ? `Uploading… ${pct} %` : "Checking the layout…";
  };
  file.addEventListener("change", () => {
    send.disabled = !file.files.length;
    error.hidden = true;
  });
  send.addEventListener("click", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    error.hidden = done.hidden = true;
    const refusal = tooLarge(chosen);  // the server would refuse it (413); say so before sending
    if (refusal) { error.textContent = refusal; error.hidden = false; return; }
    const form = new FormData();
    form.append("file", chosen);
    send.disabled = file.disabled = true;
    meter.hidden = false;
    setProgress(0);
    try {
      const u = await upload("/api/models/datasets/", form, setProgress);
      const val = u.counts?.val ? `, ${u.counts.val} held out` : ", no val split (no held-out metrics)";
      $("up-summary").textContent = `${u.name}: ${u.counts?.train ?? 0} train photos${val}; expert slot(s) ${u.experts.join(", ")}. `
        + "It is selected as the dataset above: model, expert, steps and seed come from the form.";
      status.textContent = "Uploaded.";
      done.hidden = false;
      $("up-train").disabled = false;
      onUploaded(u);
      $("up-train").focus();
    } catch (err) {
      status.textContent = "";
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      meter.hidden = true;
      file.disabled = false;
      send.disabled = !file.files.length;
    }
  });
  $("up-train").addEventListener("click", startTraining);
}

function renderTable(rows) {
  const table = $("model-table");
  $("no-models").hidden = rows.length > 0;
  $("md-count").textContent = rows.length ? `${rows.length} version(s)` : "";
  if (!rows.length) { table.replaceChildren(); return; }
  const head = el("tr", {}, ...["Engine", "Status", "Dataset", "Expert", "Steps", "PSNR", "ΔE", "Loaded on"].map(
    (h, i) => el("th", { class: i >= 4 && i <= 6 ? "num" : "", text: h })));
  const body = rows.map((r) => {
    const name = r.id ? el("a", { href: r.url, text: `${r.engine} v${r.version}` }) : el("span", { text: `${r.engine} v${r.version}` });
    const m = r.metrics?.model || {};
    return el("tr", {}, el("td", {}, name), el("td", {}, el("span", { class: "md-status", "data-status": r.status, text: r.status })),
      el("td", { text: r.dataset?.kind === "upload" ? `${r.dataset.name} (upload)` : r.dataset?.title ? `${r.dataset.title} v${r.dataset.dataset_version}` : (r.dataset?.root ? "folder (CLI)" : "–") }),
      el("td", { text: r.expert || "–" }), el("td", { class: "num", text: r.steps ?? "–" }),
      el("td", { class: "num", text: fmt(m.psnr) }), el("td", { class: "num", text: fmt(m.delta_e) }),
      el("td", { text: r.loaded_on?.length ? r.loaded_on.join(", ") : (r.available_on?.length ? "available, not loaded" : "–") }));
  });
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
}

// ---------------------------------------------------------------------------------------- model page
let run = null;
let other = null;
let points = [];
let selected = null;
let leftKind = "input";

function drawLoss() {
  const svg = $("loss-chart");
  const W = 600, H = 220, L = 46, R = 10, T = 10, B = 28;
  svg.dataset.points = String(points.length);
  const parts = [];
  const steps = Math.max(run?.steps || 1, points.at(-1)?.[0] || 1);
  if (!points.length) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="md-axis">The loss curve appears with the first steps.</text>`);
    svg.innerHTML = parts.join("");
    return;
  }
  const ys = points.map((p) => p[1]);
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi - lo < 1e-9) { hi += 1e-3; lo -= 1e-3; }
  const x = (s) => L + ((W - L - R) * s) / steps;
  const y = (v) => T + ((H - T - B) * (hi - v)) / (hi - lo);
  for (let k = 0; k <= 3; k++) {
    const v = lo + ((hi - lo) * k) / 3;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="md-grid-line"/>`,
      `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end" class="md-axis">${v.toPrecision(2)}</text>`);
  }
  parts.push(`<text x="${L}" y="${H - 8}" class="md-axis">0</text>`,
    `<text x="${W - R}" y="${H - 8}" text-anchor="end" class="md-axis">${steps} steps</text>`);
  parts.push(`<polyline class="md-raw" points="${points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ")}"/>`);
  let ema = ys[0];
  const smooth = points.map((p) => { ema = 0.85 * ema + 0.15 * p[1]; return `${x(p[0]).toFixed(1)},${y(ema).toFixed(1)}`; });
  parts.push(`<polyline class="md-smooth" points="${smooth.join(" ")}"/>`);
  svg.innerHTML = parts.join("");
}

function setStats(t) {
  if (t.step !== undefined) $("st-step").textContent = `${t.step}/${t.steps ?? run.steps}`;
  if (t.loss !== undefined) $("st-loss").textContent = Number(t.loss).toPrecision(3);
  if (t.steps_per_s) $("st-rate").textContent = fmt(t.steps_per_s, 2);
  if (t.images_per_s) $("st-images").textContent = fmt(t.images_per_s, 1);
  if (t.eta_s !== undefined) $("st-eta").textContent = duration(t.eta_s);
}

// A version trained on an uploaded zip cannot be compared in a study (its photos are not on the
// platform; the API answers 409), so the button says why instead of offering a refusal.
function studyButtonState(status) {
  const button = $("md-study");
  const uploaded = run?.dataset?.kind === "upload";
  button.disabled = status !== "ready" || uploaded;
  button.title = uploaded ? "Trained on an uploaded zip: its photos are not on the platform, so no study can show them" : "";
}

function setStatus(status, progress) {
  const pill = $("md-status");
  pill.textContent = status;
  pill.dataset.status = status;
  const running = ["queued", "exporting", "training", "evaluating"].includes(status);
  $("md-cancel").hidden = !running;
  $("md-resume").hidden = status !== "stopped";
  studyButtonState(status);
  $("md-phase").textContent = { queued: "waiting for a worker", exporting: "exporting the dataset", training: "training",
    evaluating: "evaluating on the val split", ready: "done", stopped: "stopped — resume continues from the checkpoint",
    failed: "failed" }[status] || status;
  if (progress !== undefined) $("md-bar").style.width = `${Math.round(100 * progress)}%`;
}

function metricsTable(table, columns) {
  // columns: [{label, metrics}] → one row per metric, one column per method
  const head = el("tr", {}, el("th", { text: "Metric" }), ...columns.map((c) => el("th", { class: "num", text: c.label })));
  const rows = METRICS.map(([key, label, unit, higher]) => {
    const values = columns.map((c) => c.metrics?.[key]);
    const finite = values.filter((v) => Number.isFinite(v));
    const best = finite.length ? (higher ? Math.max(...finite) : Math.min(...finite)) : null;
    return el("tr", {}, el("td", { text: `${label}${unit ? ` (${unit})` : ""} ${higher ? "↑" : "↓"}` }), ...columns.map((c) => {
      const v = c.metrics?.[key];
      const ci = c.metrics?.ci95?.[key];
      const cell = el("td", { class: `num${v === best && columns.length > 1 ? " md-best" : ""}` }, fmt(v, key === "ssim" ? 3 : 2));
      if (ci) cell.append(el("span", { class: "md-ci", text: ` [${fmt(ci[0], key === "ssim" ? 3 : 2)}, ${fmt(ci[1], key === "ssim" ? 3 : 2)}]` }));
      return cell;
    }));
  });
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

function renderMetrics() {
  const m = run.metrics || {};
  if (!m.model) {
    $("metrics-table").replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "muted", text: run.status === "ready" ? "No val split to evaluate on." : "Measured when training ends." }))));
    return;
  }
  $("md-metrics-note").textContent = `${m.model.n_images} images in ${m.model.n_groups} group(s); targets' M_GLC ${fmt(m.target_glc)}`;
  metricsTable($("metrics-table"), [{ label: `v${run.version}`, metrics: m.model }, { label: "retouch.auto", metrics: m["retouch.auto"] },
    { label: "input", metrics: m.input }]);
}

function renderCompare() {
  const mine = run.metrics?.model;
  const columns = [{ label: `v${run.version}`, metrics: mine }];
  if (other) columns.push({ label: `${other.engine} v${other.version}`, metrics: other.metrics?.model });
  else columns.push({ label: "retouch.auto", metrics: run.metrics?.["retouch.auto"] }, { label: "input", metrics: run.metrics?.input });
  if (mine) metricsTable($("cmp-table"), columns);
  const strip = $("cmp-strip");
  const rows = run.per_image || [];
  const otherRows = Object.fromEntries((other?.per_image || []).map((r) => [r.name, r]));
  const compareKey = other ? null : "input";
  const values = rows.flatMap((r) => [r.model?.delta_e, other ? otherRows[r.name]?.model?.delta_e : r[compareKey]?.delta_e]).filter(Number.isFinite);
  const top = Math.max(1, ...values);
  strip.replaceChildren(...rows.map((r, i) => {
    const a = r.model?.delta_e;
    const b = other ? otherRows[r.name]?.model?.delta_e : r[compareKey]?.delta_e;
    const tile = el("button", { type: "button", class: `md-tile${selected === r.name ? " selected" : ""}`, role: "listitem",
      "aria-label": `Photo ${r.name}: ΔE ${fmt(a)} for v${run.version}, ${fmt(b)} for ${other ? `v${other.version}` : "the input"}` },
    r.previews?.model ? el("img", { src: r.previews.model, alt: "", loading: "lazy" }) : null,
    el("span", { class: "md-tile-name", text: `${i < 3 ? "⚠ " : ""}${r.name}` }),
    el("span", { class: "md-bars" },
      el("span", { class: "md-bar-a", style: `width:${(100 * (a || 0)) / top}%`, title: `v${run.version}: ΔE ${fmt(a)}` }),
      el("span", { class: "md-bar-b", style: `width:${(100 * (b || 0)) / top}%`, title: `${other ? `v${other.version}` : "input"}: ΔE ${fmt(b)}` })),
    el("span", { class: "md-tile-values", text: `${fmt(a, 1)} · ${fmt(b, 1)}` }));
    tile.addEventListener("click", () => openViewer(r.name));
    return tile;
  }));
  if (!rows.length) strip.replaceChildren(el("p", { class: "muted small", text: "Per-image results appear once the model is evaluated." }));
  $("viewer-other").hidden = !other;
}

function openViewer(name) {
  selected = name;
  const r = run.per_image.find((x) => x.name === name);
  if (!r) return;
  $("viewer").hidden = false;
  $("viewer-title").textContent = `Photo ${name}${r.photo ? ` (photo ${r.photo})` : ""}: ΔE ${fmt(r.model?.delta_e)}`;
  const otherRow = other?.per_image?.find((x) => x.name === name);
  if (leftKind === "other" && !otherRow) leftKind = "input";
  const left = leftKind === "other" ? otherRow.previews.model : r.previews[leftKind];
  $("ba-before").src = left || "";
  $("ba-after").src = r.previews.model || "";
  $("ba-left-label").textContent = { input: "Input", target: "Expert target", other: `v${other?.version}` }[leftKind];
  for (const b of document.querySelectorAll("[data-left]")) b.setAttribute("aria-pressed", String(b.dataset.left === leftKind));
  renderCompare();
}

function renderStudies() {
  const list = $("study-list");
  list.replaceChildren(...(run.studies || []).map((s) => el("li", {},
    el("a", { href: s.results_url, text: s.title }), " ",
    el("span", { class: "md-status", "data-status": s.status, text: s.status === "draft" ? "filling…" : s.status }), " ",
    el("a", { class: "small", href: s.setup_url, text: "setup" }),
    el("span", { class: "muted small", text: ` · ${s.methods.join(", ")}` }))));
  $("no-studies").hidden = (run.studies || []).length > 0;
}

async function renderProvenance() {
  if (run.status !== "ready") return;
  const p = await api(`/api/models/${runId}/provenance/`);
  const experts = [...new Set(p.assignments.map((a) => a.expert).filter(Boolean))];
  const rounds = p.assignments.reduce((n, a) => n + Math.max(0, a.review_rounds - 1), 0);
  const splits = p.photos.reduce((acc, ph) => ({ ...acc, [ph.split]: (acc[ph.split] || 0) + 1 }), {});
  const chain = [
    ["Studies", p.studies.length ? p.studies.map((s) => `#${s.id} ${s.status}`).join(", ") : "none yet"],
    ["Engine version", `${p.engine_version.engine} v${p.engine_version.version} · sha256 ${(p.engine_version.sha256 || "").slice(0, 12)}…`],
    ["Training jobs", p.training_jobs.map((j) => `#${j.id} ${j.status}${j.worker ? ` on ${j.worker}` : ""}`).join(", ")],
    p.dataset.kind === "upload"
      ? ["Dataset", `uploaded zip ${p.dataset.name} · sha256 ${(p.dataset.sha256 || "").slice(0, 12)}… · provenance stops here`]
      : ["Dataset version", `${p.dataset.title} v${p.dataset.dataset_version} · manifest ${(p.dataset.manifest_sha256 || "").slice(0, 12)}…`],
    ["Assignments", `${p.assignments.length} (slot ${p.dataset.expert_slot}) · experts ${experts.join(", ") || "–"} · ${rounds} extra review round(s)`],
    ["Photos", `${p.photos.length} (${Object.entries(splits).map(([k, v]) => `${v} ${k}`).join(", ")})`],
  ];
  $("prov").replaceChildren(el("h3", { class: "md-sub", text: "Provenance" }),
    el("ol", { class: "md-chain" }, ...chain.map(([k, v]) => el("li", {}, el("strong", { text: k }), el("span", { text: v })))));
}

async function loadRun() {
  run = await api(`/api/models/${runId}/`);
  if (run.loss?.length >= points.length) points = run.loss.slice();
  drawLoss();
  setStatus(run.status, run.status === "ready" ? 1 : undefined);
  const tp = run.throughput || {};
  setStats({ step: run.step, steps: run.steps, loss: points.at(-1)?.[1], steps_per_s: tp.steps_per_s, images_per_s: tp.images_per_s,
    eta_s: run.status === "ready" ? 0 : undefined });
  $("md-error").hidden = !run.error;
  $("md-error").textContent = run.error || "";
  renderMetrics();
  renderCompare();
  renderStudies();
  renderProvenance().catch(() => {});
}

async function loadOthers() {
  const models = await api("/api/models/");
  const select = $("cmp-other");
  for (const r of models.results.filter((x) => x.id && x.id !== runId && x.status === "ready")) {
    select.append(el("option", { value: r.id, text: `${r.engine} v${r.version} (${r.dataset?.title || r.dataset?.name || "?"}, expert ${r.expert})` }));
  }
  select.addEventListener("change", async () => {
    other = select.value ? await api(`/api/models/${select.value}/`) : null;
    if (!other && leftKind === "other") leftKind = "input";
    renderCompare();
    if (selected) openViewer(selected);
  });
}

let refresh = null;
const refreshSoon = () => { clearTimeout(refresh); refresh = setTimeout(() => loadRun().catch((e) => toast(e.message, "error")), 250); };

function onJobEvent(msg) {
  if (msg.type !== "job" || !run) return;
  const t = msg.training;
  if (msg.registry?.run === runId) {
    refreshSoon(); // a comparison study of this version opened
  } else if (t && t.run === runId) {
    for (const p of t.points || []) if (!points.length || p[0] > points.at(-1)[0]) points.push(p);
    if (t.points?.length) drawLoss();
    setStats(t);
    if (["exporting", "training", "evaluating"].includes(t.phase)) setStatus(t.phase, msg.progress);
    if (FINISHED.includes(msg.status) || ["stopped", "failed", "ready"].includes(t.phase)) refreshSoon();
  } else if (msg.id === run.job && FINISHED.includes(msg.status)) {
    refreshSoon();
  } else if (FINISHED.includes(msg.status) && (run.studies || []).some((s) => s.status === "draft")) {
    refreshSoon(); // a comparison study's job finished: its items may be complete and the study open
  }
}

async function modelPage() {
  socket("/ws/jobs/", onJobEvent, { onOpen: () => run && refreshSoon() });
  await loadRun();
  loadOthers().catch(() => {});
  $("md-cancel").addEventListener("click", async () => {
    try { await api(`/api/jobs/${run.job}/cancel/`, { method: "POST" }); toast("Cancelling: the run stops at the next step and keeps a checkpoint."); }
    catch (e) { toast(e.message, "error"); }
  });
  $("md-resume").addEventListener("click", async () => {
    try { run = await api(`/api/models/${runId}/resume/`, { method: "POST" }); refreshSoon(); }
    catch (e) { toast(e.message, "error"); }
  });
  $("md-study").addEventListener("click", async () => {
    $("md-study").disabled = true;
    try {
      const s = await api(`/api/models/${runId}/study/`, { method: "POST", body: {} });
      toast(`Study ${s.study} created: ${s.methods.length} methods on ${s.photos.length} val photo(s). It opens when every result is in.`);
      await loadRun();
    } catch (e) { toast(e.message, "error"); } finally { studyButtonState(run.status); }
  });
  for (const b of document.querySelectorAll("[data-left]")) b.addEventListener("click", () => { leftKind = b.dataset.left; openViewer(selected); });
  const range = $("ba-range");
  range.addEventListener("input", () => { $("ba-clip").style.width = `${range.value}%`; });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest?.("input, select, textarea") || !run?.per_image?.length || e.metaKey || e.ctrlKey || e.altKey) return;
    const i = run.per_image.findIndex((r) => r.name === selected);
    if (e.key === "j" || e.key === "k") { // next / previous photo in the strip
      const next = run.per_image[(Math.max(0, i) + (e.key === "j" ? 1 : run.per_image.length - 1)) % run.per_image.length];
      openViewer(next.name);
    }
  });
}

(runId ? modelPage() : indexPage()).catch((e) => toast(e.message, "error"));
