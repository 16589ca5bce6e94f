// The harmonization composite builder (/annotation/projects/<id>/composites/): choose a portrait
// (its person cut out by POST /api/annotation/cutouts/ — saved mask, PNG alpha or the people
// segmenter), a background, drag and scale the person, mark the reference region (box or brush),
// and save: POST /api/annotation/projects/<id>/composites/ pastes it with the platform's compositor
// and adds the composite, its foreground mask and reference mask to a group of the project.
import { api, el, toast } from "./api.js";
import { loadMask } from "./annotation-common.js";
import { RegionPainter, regionThumb } from "./annotation-regions.js";

const root = document.getElementById("ann-composites");
const P = `/api/annotation/projects/${root.dataset.project}`;
const $ = (x) => document.getElementById(x);
const frame = $("frame");
const personCanvas = $("person");
const refTarget = $("ref-target");

let project = null;
let photos = [];
let person = null;      // {photo, cut: {box, url, source}}
let background = null;  // a photo
let place = { x: 0, y: 0, scale: 1 };  // the portrait's top-left in background pixels, and its scale
let region = null;
let painter = null;
let tool = "move";

const label = (p) => p.original_name || `Photo ${p.id}`;

function setStepMarks() {
  const done = { portrait: !!person, background: !!background, place: !!(person && background), reference: !!region, save: false };
  const next = ["portrait", "background", "place", "reference", "save"].find((s) => !done[s]);
  for (const li of $("steps").children) {
    li.classList.toggle("done", done[li.dataset.step]);
    li.classList.toggle("active", li.dataset.step === next);
  }
  const groupOk = $("group").value !== "new" || $("group-name").value.trim() !== "";
  $("save").disabled = !(person && background && region && groupOk);
}

function picker(container, chosen, onPick) {
  container.replaceChildren(...photos.map((p) => {
    const b = el("button", { type: "button", title: `${label(p)} (${p.width}×${p.height})`, "aria-pressed": String(chosen?.id === p.id), "data-photo": p.id },
      el("img", { src: p.urls.display, alt: label(p), loading: "lazy" }));
    b.addEventListener("click", () => onPick(p));
    return b;
  }));
}

async function choosePerson(p) {
  $("cutout-state").textContent = `Cutting out the person in ${label(p)}…`;
  person = null; drawPerson(); setStepMarks();
  try {
    const cut = await api("/api/annotation/cutouts/", { method: "POST", body: { photo: p.id } });
    const source = { mask: "the photo's saved mask", alpha: "the PNG's transparency", grabcut: "the people segmenter" }[cut.source] || cut.source;
    $("cutout-state").textContent = `Cut out with ${source}.`;
    person = { photo: p, cut, canvas: await cutoutCanvas(p, cut) };
    if (background) placeDefault();
    drawPerson();
  } catch (error) { $("cutout-state").textContent = error.message; toast(error.message, "error"); }
  picker($("pick-person"), person?.photo, choosePerson);
  setStepMarks();
}

// The person's box from the display image, with the mask as its alpha.
async function cutoutCanvas(p, cut) {
  const img = new Image();
  img.src = p.urls.display; await img.decode();
  const k = img.naturalWidth / p.width;
  const [x0, y0, x1, y1] = cut.box;
  const c = document.createElement("canvas");
  c.width = Math.max(1, Math.round((x1 - x0) * k)); c.height = Math.max(1, Math.round((y1 - y0) * k));
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, -x0 * k, -y0 * k, img.naturalWidth, img.naturalHeight);
  const mask = await loadMask(cut.url, img.naturalWidth, img.naturalHeight);
  const data = ctx.getImageData(0, 0, c.width, c.height);
  const ox = Math.round(x0 * k); const oy = Math.round(y0 * k);
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const my = Math.min(img.naturalHeight - 1, y + oy); const mx = Math.min(img.naturalWidth - 1, x + ox);
      data.data[4 * (y * c.width + x) + 3] = mask[my * img.naturalWidth + mx];
    }
  }
  ctx.putImageData(data, 0, 0);
  return c;
}

async function chooseBackground(p) {
  background = p;
  region = null;
  const img = $("bg-img");
  img.src = p.urls.display; await img.decode();
  frame.hidden = false; $("stage-empty").hidden = true;
  fitFrame();
  painter?.svg.remove();
  painter = new RegionPainter(refTarget, p.width, p.height, (r) => { region = r; showRegion(); });
  painter.limit = 2000;
  painter.size = Number($("brush-size").value);
  if (tool !== "move") painter.setTool(tool);
  showRegion();
  if (person) placeDefault();
  drawPerson();
  picker($("pick-background"), background, chooseBackground);
  setStepMarks();
}

// The background as large as the stage allows (a small photo is enlarged: its pixels are what is marked).
function fitFrame() {
  if (!background) return;
  const stage = $("stage");
  const W = stage.clientWidth - 32; const H = Math.max(220, window.innerHeight - 150);  // the stage sticks under the header
  const s = Math.min(W / background.width, H / background.height);
  frame.style.width = `${Math.floor(background.width * s)}px`; frame.style.height = `${Math.floor(background.height * s)}px`;
}
window.addEventListener("resize", fitFrame);

// Feet on the bottom edge, centred, the person about 80 % of the background's height.
function placeDefault() {
  const [x0, y0, x1, y1] = person.cut.box;
  place.scale = Math.min(3, Math.max(0.05, (0.8 * background.height) / (y1 - y0)));
  place.x = background.width / 2 - ((x0 + x1) / 2) * place.scale;
  place.y = background.height - y1 * place.scale;
  $("scale").value = place.scale.toFixed(2);
}

function drawPerson() {
  personCanvas.hidden = !(person && background);
  if (!person || !background) return;
  if (personCanvas.width !== person.canvas.width || personCanvas.dataset.photo !== String(person.photo.id)) {
    personCanvas.width = person.canvas.width; personCanvas.height = person.canvas.height;
    personCanvas.getContext("2d").drawImage(person.canvas, 0, 0);
    personCanvas.dataset.photo = String(person.photo.id);
  }
  const [x0, y0, x1, y1] = person.cut.box;
  const W = background.width; const H = background.height;
  Object.assign(personCanvas.style, {
    left: `${(100 * (place.x + x0 * place.scale)) / W}%`, top: `${(100 * (place.y + y0 * place.scale)) / H}%`,
    width: `${(100 * (x1 - x0) * place.scale) / W}%`, height: `${(100 * (y1 - y0) * place.scale) / H}%`,
  });
  $("scale-out").textContent = `${place.scale.toFixed(2)}×`;
  root.dataset.place = [place.x, place.y, place.scale].map((v) => v.toFixed(2)).join(",");
}

// Scale about the person's feet (the bottom centre of their box).
function rescale(next) {
  const [x0, , x1, y1] = person.cut.box;
  const fx = place.x + ((x0 + x1) / 2) * place.scale; const fy = place.y + y1 * place.scale;
  place.scale = Math.min(3, Math.max(0.05, next));
  place.x = fx - ((x0 + x1) / 2) * place.scale; place.y = fy - y1 * place.scale;
  $("scale").value = place.scale.toFixed(2);
  drawPerson();
}

let drag = null;
personCanvas.addEventListener("pointerdown", (e) => {
  e.preventDefault(); personCanvas.setPointerCapture(e.pointerId); personCanvas.classList.add("dragging");
  drag = { sx: e.clientX, sy: e.clientY, x: place.x, y: place.y };
});
personCanvas.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const k = background.width / frame.getBoundingClientRect().width;
  place.x = drag.x + (e.clientX - drag.sx) * k; place.y = drag.y + (e.clientY - drag.sy) * k;
  drawPerson();
});
personCanvas.addEventListener("pointerup", () => { drag = null; personCanvas.classList.remove("dragging"); });
personCanvas.addEventListener("keydown", (e) => {
  if (!person || !background) return;
  const step = (e.shiftKey ? 0.05 : 0.01) * background.width;
  const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  if (moves[e.key]) { place.x += moves[e.key][0]; place.y += moves[e.key][1]; drawPerson(); e.preventDefault(); }
  if (e.key === "+" || e.key === "=") { rescale(place.scale * 1.05); e.preventDefault(); }
  if (e.key === "-") { rescale(place.scale / 1.05); e.preventDefault(); }
});
$("scale").addEventListener("input", () => { if (person && background) rescale(Number($("scale").value)); });

function showRegion() {
  $("region-state").textContent = !region ? "No reference region yet: choose Box or Brush and mark the part of the background the person should match."
    : region.box ? `Reference box ${region.box.join(", ")} (background pixels).` : `Reference painted with ${region.brush.length} dabs; the part under the person is left out.`;
  root.dataset.region = region ? (region.box ? "box" : "brush") : "";
  setStepMarks();
}

function setTool(next) {
  tool = next;
  for (const b of document.querySelectorAll("[data-tool-button]")) {
    const on = b.dataset.toolButton === next;
    b.classList.toggle("active", on); b.setAttribute("aria-pressed", String(on));
  }
  frame.dataset.step = next === "move" ? "place" : "reference";
  $("brush-size-row").hidden = !["brush", "erase"].includes(next);
  if (painter && next !== "move") painter.setTool(next);
}

function renderGroups() {
  const select = $("group");
  const submitted = new Set(project.assignments.filter((a) => !["queued", "in_progress"].includes(a.state)).map((a) => a.group));
  const keep = select.value;
  select.replaceChildren(el("option", { value: "new", text: "A new group…" }), ...project.groups.map((g) => el("option", {
    value: String(g.index), text: `${g.name} (group ${g.index}, ${g.photos} photo${g.photos === 1 ? "" : "s"})${submitted.has(g.index) ? " — submitted, closed" : ""}`,
    ...(submitted.has(g.index) ? { disabled: "" } : {}),
  })));
  if ([...select.options].some((o) => o.value === keep && !o.disabled)) select.value = keep;
  $("group-name-row").hidden = select.value !== "new";
}

async function save() {
  const group = $("group").value;
  const body = { person: person.photo.id, background: background.id, x: place.x, y: place.y, scale: place.scale, reference: region,
    ...(group === "new" ? { group: null, group_name: $("group-name").value.trim() } : { group: Number(group) }) };
  $("save").disabled = true; $("save-error").hidden = true;
  root.dataset.saving = "1";
  try {
    const made = await api(`${P}/composites/`, { method: "POST", body });
    toast(`Saved into ${made.group.name} (group ${made.group.index}).`);
    $("made-card").hidden = false;
    $("made").prepend(el("li", { "data-photo": made.photo.id }, regionThumb(made.photo, made.region, { label: "Reference region" }),
      el("span", { text: `${made.group.name} · ${made.photo.width}×${made.photo.height}` })));
    project = await api(`${P}/`);
    renderGroups();
    $("group").value = String(made.group.index); $("group-name-row").hidden = true;
    root.dataset.saved = String(Number(root.dataset.saved || 0) + 1);
  } catch (error) {
    $("save-error").hidden = false; $("save-error").textContent = error.message;
    toast(error.message, "error");
  } finally { delete root.dataset.saving; setStepMarks(); }
}

async function loadPhotos() {
  let url = "/api/photos/";
  photos = [];
  for (let page = 0; url && page < 4; page++) {
    const data = await api(url);
    photos.push(...data.results);
    url = data.next ? new URL(data.next, location.href).pathname + new URL(data.next, location.href).search : null;
  }
}

async function load() {
  [project] = await Promise.all([api(`${P}/`), loadPhotos()]);
  picker($("pick-person"), null, choosePerson);
  picker($("pick-background"), null, chooseBackground);
  renderGroups();
  if (!photos.length) $("stage-empty").textContent = "No photos yet: upload portraits and backgrounds on the Photos page first.";
  for (const b of document.querySelectorAll("[data-tool-button]")) b.addEventListener("click", () => setTool(b.dataset.toolButton));
  $("region-clear").addEventListener("click", () => painter?.clear());
  $("brush-size").addEventListener("input", () => {
    $("brush-size-out").textContent = `${$("brush-size").value} px`;
    if (painter) painter.size = Number($("brush-size").value);
  });
  $("group").addEventListener("change", () => { $("group-name-row").hidden = $("group").value !== "new"; setStepMarks(); });
  $("group-name").addEventListener("input", setStepMarks);
  $("save").addEventListener("click", save);
  root.addEventListener("region-limit", () => toast("The reference has as many dabs as it takes (2000): use a larger brush.", "error"));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select")) return;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { if (painter?.undo()) e.preventDefault(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey || e.target === personCanvas) return;
    const tools = { m: "move", r: "box", b: "brush", e: "erase" };
    if (tools[e.key.toLowerCase()]) setTool(tools[e.key.toLowerCase()]);
  });
  setTool("move");
  setStepMarks();
  root.dataset.ready = "1";
}

load().catch((error) => toast(error.message, "error"));
