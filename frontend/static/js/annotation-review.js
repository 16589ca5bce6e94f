// The reviewer's view: the source and every slot side by side (rendered in the browser with the
// server's renderer), per-slot M_GLC, pairwise ΔE, round n against n − 1, issues pinned to a region
// and/or a slider with an optional suggested value, then accept or request changes.
import { api, el, toast } from "./api.js";
import { LABELS, STATE_LABELS, formatValue, loadMask, loadPixels, previewPixels } from "./annotation-common.js";

const root = document.getElementById("ann-review");
const A = `/api/annotation/assignments/${root.dataset.assignment}`;
const canReview = root.dataset.canReview === "1";
const $ = (x) => document.getElementById(x);
let detail = null;   // the reviewed assignment (photos, issues)
let view = null;     // slots, ΔE, previous rounds
let current = 0;
let mode = "slots";
let region = null;   // pinned box in original pixels
const pending = [];

const fmt = (v, d = 2) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));

async function cell(source, params, caption, fg, { pin = false } = {}) {
  const c = el("canvas");
  c.width = source.width; c.height = source.height;
  const out = params ? previewPixels(source, params, fg) : new Uint8ClampedArray(source.data);
  c.getContext("2d").putImageData(new ImageData(out, source.width, source.height), 0, 0);
  const box = el("div", { class: `review-cell${pin ? " pinning" : ""}` }, c, el("div", { class: "cap" }, ...caption));
  if (pin && canReview) enablePin(box, c);
  return box;
}

function enablePin(box, c) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const p = detail.photos[current];
  svg.setAttribute("viewBox", `0 0 ${p.width} ${p.height}`); svg.setAttribute("preserveAspectRatio", "none");
  const rect = document.createElementNS(ns, "rect");
  rect.setAttribute("class", "issue-box");
  svg.append(rect);
  box.append(svg);
  let start = null;
  const toPhoto = (e) => {
    const r = c.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * p.width, ((e.clientY - r.top) / r.height) * p.height];
  };
  const draw = (a, b) => {
    const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
    const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
    Object.entries({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }).forEach(([k, v]) => rect.setAttribute(k, v));
    return [x0, y0, x1, y1].map((v) => Math.round(v));
  };
  if (region) draw(region.slice(0, 2), region.slice(2));
  c.addEventListener("pointerdown", (e) => { start = toPhoto(e); c.setPointerCapture(e.pointerId); });
  c.addEventListener("pointermove", (e) => { if (start) draw(start, toPhoto(e)); });
  c.addEventListener("pointerup", (e) => {
    if (!start) return;
    const box4 = draw(start, toPhoto(e));
    start = null;
    region = box4[2] - box4[0] >= 4 && box4[3] - box4[1] >= 4 ? box4 : null;
    $("issue-region").textContent = region ? `Region pinned: ${region.join(", ")}` : "";
  });
}

async function render() {
  const p = detail.photos[current];
  const source = await loadPixels(p.urls.display, 900);
  const fg = detail.kind === "harmonization" && p.masks.foreground ? await loadMask(p.masks.foreground, source.width, source.height) : null;
  const row = view.photos.find((x) => x.photo === p.id);
  const cells = [];
  if (mode === "slots") {
    cells.push(await cell(source, null, [el("span", { text: "Source" })], fg));
    for (const s of view.slots) {
      const de = row.delta_e.filter((d) => d.slots.includes(s.slot)).map((d) => `ΔE ${d.slots.find((x) => x !== s.slot)} ${fmt(d.delta_e76, 1)}`);
      cells.push(await cell(source, s.params[p.id], [el("span", { text: `Slot ${s.slot} · ${s.expert || ""}` }), el("span", { text: de.join(" · ") })],
        fg, { pin: s.assignment === detail.id }));
    }
  } else {
    const mine = view.slots.find((s) => s.assignment === detail.id);
    const prev = row.previous_round;
    cells.push(await cell(source, prev ? prev.params : null, [el("span", { text: prev ? `Round ${prev.round}` : "No earlier round" })], fg));
    cells.push(await cell(source, mine?.params[p.id], [el("span", { text: `Round ${detail.round}` }),
      el("span", { text: prev ? `ΔE to round ${prev.round}: ${fmt(prev.delta_e76, 2)}` : "" })], fg, { pin: true }));
  }
  $("cells").style.gridTemplateColumns = `repeat(${cells.length}, 1fr)`;
  $("cells").replaceChildren(...cells);
  $("pin-hint").textContent = canReview ? `Drag on slot ${detail.slot} to pin a region to your next issue.` : "";
  document.querySelectorAll("#photo-tabs .button").forEach((b, i) => b.classList.toggle("active", i === current));
  root.dataset.photo = p.id;
}

function renderIssues() {
  const list = $("issues");
  list.replaceChildren(...detail.issues.map((i) => {
    const li = el("li", { class: `issue ${i.state}` }, el("div", { class: "issue-head" }, el("span", { class: "badge", text: i.state }),
      el("span", { class: "muted small", text: `round ${i.round}${i.slider ? ` · ${LABELS[i.slider] || i.slider}` : ""}${i.region ? " · region" : ""}` })),
    el("p", { text: i.comment }));
    if (i.reply) li.append(el("p", { class: "muted small", text: `Expert: ${i.reply}` }));
    if (canReview && i.state === "resolved" && detail.state === "in_review") {
      const box = el("input", { type: "checkbox", "data-reopen": i.id });
      li.append(el("label", { class: "small" }, box, " reopen (not fixed)"));
      box.addEventListener("change", updateButtons);
    }
    return li;
  }));
  $("no-issues").hidden = detail.issues.length > 0;
}

function renderPending() {
  $("pending").replaceChildren(...pending.map((i, k) => {
    const remove = el("button", { type: "button", class: "link-button small", text: "remove" });
    remove.addEventListener("click", () => { pending.splice(k, 1); renderPending(); });
    return el("li", { class: "issue open" }, el("p", { text: i.comment }),
      el("p", { class: "muted small", text: [i.photo_name, i.slider && LABELS[i.slider], i.region && "region", i.suggested_params && `suggest ${formatValue(i.slider, i.suggested_params[i.slider])}`].filter(Boolean).join(" · ") }), remove);
  }));
  $("pending-count").textContent = pending.length;
  updateButtons();
}

function updateButtons() {
  if (!canReview) return;
  const open = detail.state === "in_review";
  const reopen = document.querySelectorAll("[data-reopen]:checked").length;
  $("request-changes").disabled = !open || (!pending.length && !reopen);
  $("accept").disabled = !open || pending.length > 0 || reopen > 0;
}

async function decide(decision) {
  const reopen = [...document.querySelectorAll("[data-reopen]:checked")].map((b) => Number(b.dataset.reopen));
  const issues = decision === "accept" ? [] : pending.map(({ photo_name: _n, ...rest }) => rest);
  try {
    const moved = await api(`${A}/review/`, { method: "POST", body: { decision, issues, reopen } });
    pending.length = 0;
    toast(decision === "accept" ? "Accepted." : `Sent back to ${moved.expert} with ${issues.length + reopen.length} issue(s).`);
    await load();
  } catch (error) { toast(error.message, "error"); }
}

async function load() {
  [detail, view] = await Promise.all([api(`${A}/`), api(`${A}/review/`)]);
  const pill = $("rv-state");
  pill.dataset.state = detail.state; pill.textContent = STATE_LABELS[detail.state];
  $("rv-summary").replaceChildren(`Round ${detail.round} · M_GLC `, ...view.slots.flatMap((s) => [
    el("span", { class: "de-chip", text: `${s.slot}: ${fmt(s.glc, 1)}` }), " "]));
  const tabs = $("photo-tabs");
  tabs.replaceChildren(...detail.photos.filter((p) => view.photos.some((x) => x.photo === p.id)).map((p) => {
    const b = el("button", { type: "button", class: "button ghost small", text: p.original_name || `#${p.id}` });
    b.addEventListener("click", () => { current = detail.photos.indexOf(p); region = null; render(); });
    return b;
  }));
  if (!view.photos.some((x) => x.photo === detail.photos[current]?.id)) current = detail.photos.findIndex((p) => view.photos.some((x) => x.photo === p.id));
  renderIssues(); renderPending();
  await render();
  root.dataset.ready = String(Number(root.dataset.ready || 0) + 1);
}

function wire() {
  $("mode-slots").addEventListener("click", () => { mode = "slots"; $("mode-slots").classList.add("active"); $("mode-rounds").classList.remove("active"); render(); });
  $("mode-rounds").addEventListener("click", () => { mode = "rounds"; $("mode-rounds").classList.add("active"); $("mode-slots").classList.remove("active"); render(); });
  if (!canReview) return;
  const select = $("issue-slider");
  for (const s of ["temperature", "tint", "exposure", "contrast", "highlights", "shadows", "whites", "blacks", "texture", "clarity", "dehaze", "vibrance", "saturation"]) {
    if (detail === null || detail.sliders.some((x) => x.name === s)) select.append(el("option", { value: s, text: LABELS[s] }));
  }
  $("issue-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = detail.photos[current];
    const slider = select.value;
    const suggest = $("issue-suggest").value.trim();
    const issue = { photo: p.id, photo_name: p.original_name, comment: $("issue-comment").value.trim() };
    if (!issue.comment) return;
    if (slider) issue.slider = slider;
    if (region) issue.region = { box: region };
    if (slider && suggest !== "" && Number.isFinite(Number(suggest))) issue.suggested_params = { [slider]: Number(suggest) };
    pending.push(issue);
    $("issue-comment").value = ""; $("issue-suggest").value = ""; select.value = ""; region = null; $("issue-region").textContent = "";
    renderPending(); render();
  });
  $("request-changes").addEventListener("click", () => decide("changes_requested"));
  $("accept").addEventListener("click", () => decide("accept"));
}

load().then(wire).catch((error) => toast(error.message, "error"));
