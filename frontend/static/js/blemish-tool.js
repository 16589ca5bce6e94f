// The "Blemishes" tool of /try/: runs retouch.blemish on the photo on show, draws the spots it found,
// and lets a click add a spot it missed or keep one it found (a mole); strength and detail sliders.
// try-retouch.js announces the photo with a "try:photo" event on #try; while the tool is on, its layer
// takes the clicks (the click-retouching session does not see them) and shows the blemish result.
import { el, toast } from "./api.js";
import { outputUrl, runJob } from "./jobs.js";
import { blurSlidersOnRelease, downloadName, sentence, setDownload } from "./try-common.js";

const root = document.getElementById("try");
const canvas = document.getElementById("canvas");
const panel = root?.querySelector(".try-panel");
const css = el("link", { rel: "stylesheet", href: new URL("../css/try-tools.css", import.meta.url).href });
document.head.append(css);

let photo = null;
let spots = [];          // the user's spots: {x, y} adds one, {x, y, remove: true} keeps one
let found = [];          // spots of the last result (info.spots)
let seq = 0;
let timer = null;

const section = el("section", { class: "blm", id: "blemish-tool", "data-state": "off", "data-spots": "0", "data-result-url": "" },
  el("div", { class: "blm-head" },
    el("h2", { text: "Blemishes" }),
    el("label", { class: "blm-switch" }, el("input", { type: "checkbox", id: "blm-on" }), "On")),
  el("p", { class: "muted small", text: "Finds small dark or red spots on facial skin and removes them, keeping the skin's texture." }));
const body = el("div", { class: "blm-body", hidden: "" },
  el("p", { class: "muted small" }, "Click a spot it missed to remove it; click a found spot to keep it. ",
    el("span", { class: "blm-legend dark" }), "dark ", el("span", { class: "blm-legend red" }), "red ",
    el("span", { class: "blm-legend protected" }), "kept"),
  el("div", { class: "blm-counts", id: "blm-counts", text: "—" }),
  el("div", { class: "sliders" },
    el("label", { class: "slider" }, el("span", { text: "Strength" }), el("output", { id: "blm-out-strength", text: "1.00" }),
      el("input", { id: "blm-strength", type: "range", min: "0", max: "1", step: "0.05", value: "1" })),
    el("label", { class: "slider" }, el("span", { text: "Skin texture kept" }), el("output", { id: "blm-out-detail", text: "0.70" }),
      el("input", { id: "blm-detail", type: "range", min: "0", max: "1", step: "0.05", value: "0.7" }))),
  el("div", { class: "panel-actions" },
    el("label", { class: "blm-switch small" }, el("input", { type: "checkbox", id: "blm-show", checked: "" }), "Show spots"),
    el("button", { class: "button ghost small", id: "blm-reset", type: "button", text: "Clear my spots" }),
    el("a", { class: "button ghost small", id: "blm-download", download: "", hidden: "", text: "Download" })),
  el("p", { class: "muted small", id: "blm-status", "aria-live": "polite" }));
section.append(body);
panel?.insertBefore(section, panel.querySelector(".shortcuts"));

const layer = el("div", { class: "blm-layer", id: "blm-layer", hidden: "" },
  el("img", { class: "layer blm-result", id: "blm-result", alt: "Blemishes removed" }));
canvas?.insertBefore(layer, canvas.querySelector(".split-line"));

const $ = (id) => document.getElementById(id);
const on = () => $("blm-on").checked;
const params = () => ({ strength: Number($("blm-strength").value), detail: Number($("blm-detail").value), spots });

function drawSpots() {
  for (const m of layer.querySelectorAll(".blm-spot")) m.remove();
  for (const s of found) {
    const d = Math.max(12, (2 * 1.6 * s.r * canvas.clientWidth) / photo.width);
    layer.append(el("span", { class: `blm-spot ${s.protected ? "protected" : s.kind}`, "data-kind": s.kind,
      style: `left:${(100 * (s.x + 0.5)) / photo.width}%;top:${(100 * (s.y + 0.5)) / photo.height}%;width:${d}px;height:${d}px` }));
  }
  const removed = found.filter((s) => !s.protected);
  $("blm-counts").textContent = `${removed.filter((s) => s.source === "detected").length} found · `
    + `${removed.filter((s) => s.source === "added").length} added · ${found.filter((s) => s.protected).length} kept`;
  section.dataset.spots = String(found.length);
}

async function run() {
  if (!photo || !on()) return;
  const mine = ++seq;
  section.dataset.state = "running";
  $("blm-status").textContent = "Looking for blemishes…";
  document.getElementById("busy").hidden = false;
  try {
    const job = await runJob({ engine: "retouch.blemish", inputs: { photo: photo.id }, params: params() });
    if (mine !== seq) return;
    found = job.info.spots;
    const url = outputUrl(job, "image");
    $("blm-result").src = url;
    section.dataset.resultUrl = url;
    setDownload($("blm-download"), url, downloadName(photo.original_name, "blemishes", url));
    drawSpots();
    $("blm-status").textContent = job.info.note || `${job.info.faces_found} face(s) · ${Math.round(job.info.ms.total)} ms in the engine`;
    section.dataset.state = "ready";
  } catch (error) {
    if (mine === seq) {
      const message = sentence(error, "look for blemishes");
      toast(message, "error"); $("blm-status").textContent = message; section.dataset.state = "error";
    }
  } finally { if (mine === seq) document.getElementById("busy").hidden = true; }
}

const runSoon = (ms = 350) => { clearTimeout(timer); timer = setTimeout(run, ms); };

function toggle() {
  const active = on() && !!photo;
  body.hidden = !on();
  layer.hidden = !active;
  section.dataset.state = on() ? section.dataset.state : "off";
  if (active) run(); else section.dataset.state = "off";
}

layer.addEventListener("pointerdown", (e) => {
  // the tool owns clicks while it is on: the click-retouching session must not see them
  e.stopPropagation(); e.preventDefault();
  if (!photo || e.button !== 0 || !e.isPrimary) return;
  const r = layer.getBoundingClientRect();
  const x = Math.round(((e.clientX - r.left) / r.width) * photo.width * 10) / 10;
  const y = Math.round(((e.clientY - r.top) / r.height) * photo.height * 10) / 10;
  const reach = (s) => Math.max(s.r * 1.6, (8 * photo.width) / r.width); // at least 8 screen px
  const mine = spots.findIndex((s) => Math.hypot(s.x - x, s.y - y) <= Math.max(6, (10 * photo.width) / r.width));
  const hit = found.find((s) => Math.hypot(s.x - x, s.y - y) <= reach(s));
  if (mine >= 0) spots.splice(mine, 1);                                  // undo my own spot
  else if (hit && hit.source === "detected" && !hit.protected) spots.push({ x: hit.x, y: hit.y, remove: true }); // keep it
  else if (!hit) spots.push({ x, y });                                   // add one
  else return;
  found = found.map((s) => (s === hit && !s.protected && s.source === "detected" ? { ...s, protected: true } : s));
  if (hit && mine < 0 && hit.source === "detected") drawSpots();
  runSoon(150);
});
layer.addEventListener("contextmenu", (e) => e.preventDefault());
blurSlidersOnRelease(section);

$("blm-on").addEventListener("change", toggle);
$("blm-show").addEventListener("change", () => layer.classList.toggle("hide-spots", !$("blm-show").checked));
$("blm-reset").addEventListener("click", () => { spots = []; runSoon(0); });
for (const [id, out] of [["blm-strength", "blm-out-strength"], ["blm-detail", "blm-out-detail"]]) {
  $(id).addEventListener("input", () => { $(out).textContent = Number($(id).value).toFixed(2); runSoon(); });
}
window.addEventListener("resize", () => photo && found.length && drawSpots());
root?.addEventListener("try:photo", (e) => {
  photo = e.detail; spots = []; found = [];
  $("blm-result").removeAttribute("src"); $("blm-download").hidden = true;
  for (const m of layer.querySelectorAll(".blm-spot")) m.remove();
  toggle();
});
