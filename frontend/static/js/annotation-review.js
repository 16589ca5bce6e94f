// The reviewer's view: the source and every slot side by side (rendered in the browser with the
// server's renderer), per-slot M_GLC, pairwise ΔE, round n against n − 1, issues pinned to a region
// and/or a slider with an optional suggested value, then accept or request changes.
import { api, el, toast } from "./api.js";
import { LABELS, STATE_LABELS, formatValue, loadMask, loadPixels, previewPixels } from "./annotation-common.js";
import { RegionPainter, drawRegion, regionLayer, regionThumb } from "./annotation-regions.js";

const root = document.getElementById("ann-review");
const A = `/api/annotation/assignments/${root.dataset.assignment}`;
const canReview = root.dataset.canReview === "1";
const $ = (x) => document.getElementById(x);
let detail = null;   // the reviewed assignment (photos, issues)
let view = null;     // slots, ΔE, previous rounds
let current = 0;
let mode = "slots";
let region = null;   // the pinned region in original pixels: {box: [...]} or {brush: [[x, y, r], ...]}
let tool = "box";    // box | brush | erase
let painter = null;  // the RegionPainter on the reviewed slot's picture
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

// Pinning on the reviewed slot's picture: a box or a brushed region (paint, erase, clear, undo).
function enablePin(box, c) {
  const p = detail.photos[current];
  // Earlier issues on this photo, faint, so the reviewer sees what was already pinned.
  const earlier = regionLayer(p.width, p.height, "region-layer earlier");
  for (const i of [...detail.issues, ...pending]) {
    if (i.photo === p.id && i.region) drawRegion(earlier, i.region, { kind: "earlier" });
  }
  box.append(earlier);
  painter = new RegionPainter(c, p.width, p.height, (r) => { region = r; showRegion(); });
  painter.setTool(tool);
  painter.size = Number($("brush-size")?.value || 28);
  painter.set(region);
}

function regionText(r) {
  if (!r) return "";
  if (r.box) return `Region pinned: box ${r.box.join(", ")}`;
  return `Region pinned: brushed area (${r.brush.length} dab${r.brush.length === 1 ? "" : "s"})`;
}

function showRegion() {
  $("issue-region").textContent = regionText(region);
  root.dataset.region = region ? (region.box ? "box" : "brush") : "";
}

function setTool(next) {
  tool = next;
  for (const b of document.querySelectorAll("[data-tool-button]")) {
    const on = b.dataset.toolButton === next;
    b.classList.toggle("active", on); b.setAttribute("aria-pressed", String(on));
  }
  $("brush-size-row").hidden = next === "box";
  painter?.setTool(next);
  $("pin-hint").textContent = pinHint();
}

function pinHint() {
  if (!canReview) return "";
  const s = `slot ${detail.slot}`;
  return { box: `Drag a box on ${s} to pin a region to your next issue.`,
    brush: `Paint on ${s} to pin a region (E erases, Ctrl+Z undoes).`,
    erase: `Drag over the painted region on ${s} to erase it.` }[tool];
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
  $("pin-hint").textContent = pinHint();
  document.querySelectorAll("#photo-tabs .button").forEach((b, i) => b.classList.toggle("active", i === current));
  root.dataset.photo = p.id;
}

function renderIssues() {
  const list = $("issues");
  list.replaceChildren(...detail.issues.map((i) => {
    const li = el("li", { class: `issue ${i.state}` }, el("div", { class: "issue-head" }, el("span", { class: "badge", text: i.state }),
      el("span", { class: "muted small", text: `round ${i.round}${i.slider ? ` · ${LABELS[i.slider] || i.slider}` : ""}${i.region ? " · region" : ""}` })),
    el("p", { text: i.comment }));
    const where = i.photo && detail.photos.find((x) => x.id === i.photo);
    if (i.region && where) li.append(regionThumb(where, i.region));
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
    const where = detail.photos.find((x) => x.id === i.photo);
    return el("li", { class: "issue open" }, el("p", { text: i.comment }),
      el("p", { class: "muted small", text: [i.photo_name, i.slider && LABELS[i.slider], i.region && (i.region.box ? "box" : "brushed region"), i.suggested_params && `suggest ${formatValue(i.slider, i.suggested_params[i.slider])}`].filter(Boolean).join(" · ") }),
      ...(i.region && where ? [regionThumb(where, i.region)] : []), remove);
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
    b.addEventListener("click", () => { current = detail.photos.indexOf(p); region = null; showRegion(); render(); });
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
    if (region) issue.region = region;
    if (slider && suggest !== "" && Number.isFinite(Number(suggest))) issue.suggested_params = { [slider]: Number(suggest) };
    pending.push(issue);
    $("issue-comment").value = ""; $("issue-suggest").value = ""; select.value = ""; region = null; showRegion();
    renderPending(); render();
  });
  for (const b of document.querySelectorAll("[data-tool-button]")) b.addEventListener("click", () => setTool(b.dataset.toolButton));
  $("region-clear").addEventListener("click", () => painter?.clear());
  $("brush-size").addEventListener("input", () => {
    $("brush-size-out").textContent = `${$("brush-size").value} px`;
    if (painter) painter.size = Number($("brush-size").value);
  });
  root.addEventListener("region-limit", () => toast("That region has as many dabs as an issue takes (500): paint with a larger brush.", "error"));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select")) return;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { if (painter?.undo()) e.preventDefault(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === "r") setTool("box"); else if (k === "b") setTool("brush"); else if (k === "e") setTool("erase");
    else if (k === "[" || k === "]") {
      const input = $("brush-size");
      input.value = String(Number(input.value) + (k === "]" ? 4 : -4));
      input.dispatchEvent(new Event("input"));
    }
  });
  $("request-changes").addEventListener("click", () => decide("changes_requested"));
  $("accept").addEventListener("click", () => decide("accept"));
}

load().then(wire).catch((error) => toast(error.message, "error"));
