// Regions pinned to a photo — a box {"box": [x0, y0, x1, y1]} or a brushed area
// {"brush": [[x, y, radius], …]}, both in the photo's original pixels — drawn as SVG over a picture,
// shown as small thumbnails in issue lists, and painted with a brush (paint, erase, clear, undo).
const NS = "http://www.w3.org/2000/svg";

// The styles travel with the module, so a page that only imports it (the editor) draws regions too.
const STYLES = new URL("../css/annotation-regions.css", import.meta.url).href;
if (![...document.querySelectorAll("link[rel=stylesheet]")].some((l) => l.href === STYLES)) {
  document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: STYLES }));
}

function svgEl(name, attrs = {}) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// An SVG sized to a photo's pixels that stretches over its picture.
export function regionLayer(width, height, className = "region-layer") {
  return svgEl("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: className });
}

// Append a region's shapes to `svg`. A brush is one group of filled discs drawn at one opacity, so
// overlapping dabs read as a single painted area, with an outline from an SVG filter-free trick:
// the same discs a little larger, behind, in the outline colour.
export function drawRegion(svg, region, { kind = "issue" } = {}) {
  if (!region) return null;
  if (region.box) {
    const [x0, y0, x1, y1] = region.box;
    const r = svgEl("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: `${kind}-box region-box` });
    svg.append(r);
    return r;
  }
  const dabs = region.brush || [];
  const group = svgEl("g", { class: `${kind}-brush region-brush`, "data-dabs": String(dabs.length) });
  const edge = svgEl("g", { class: "edge" });
  const fill = svgEl("g", { class: "fill" });
  for (const [x, y, r] of dabs) {
    const pad = Math.max(2, r * 0.08);
    edge.append(svgEl("circle", { cx: x, cy: y, r: r + pad }));
    fill.append(svgEl("circle", { cx: x, cy: y, r }));
  }
  group.append(edge, fill);
  svg.append(group);
  return group;
}

// A small picture of the photo with the region on it, for issue lists.
export function regionThumb(photo, region, { label = "Pinned region" } = {}) {
  const box = document.createElement("figure");
  box.className = "region-thumb";
  const img = new Image();
  img.src = photo.urls.display;
  img.alt = `${label} on ${photo.original_name || `photo ${photo.id}`}`;
  const svg = regionLayer(photo.width, photo.height);
  drawRegion(svg, region);
  box.append(img, svg);
  box.dataset.region = region.box ? "box" : "brush";
  return box;
}

// A pinning tool over `target` (an element showing the photo at any size) for a photo of
// `width` × `height` pixels: "box" drags a rectangle, "brush" paints discs of `size` screen pixels,
// "erase" removes the discs under the eraser. `onChange(region | null)` after every change.
export class RegionPainter {
  constructor(target, width, height, onChange) {
    this.target = target; this.width = width; this.height = height; this.onChange = onChange;
    this.tool = "box"; this.size = 28; this.limit = 500;
    this.box = null; this.dabs = []; this.history = [];   // history: snapshots, for undo
    this.svg = regionLayer(width, height, "region-layer pin-layer");
    this.preview = svgEl("rect", { class: "issue-box region-box", visibility: "hidden" });
    this.cursor = svgEl("circle", { class: "brush-cursor", visibility: "hidden" });
    target.parentElement.append(this.svg);
    this.down = null;
    target.addEventListener("pointerdown", (e) => this.start(e));
    target.addEventListener("pointermove", (e) => this.move(e));
    target.addEventListener("pointerup", (e) => this.end(e));
    target.addEventListener("pointerleave", () => this.cursor.setAttribute("visibility", "hidden"));
    this.redraw();
  }

  scale() { const r = this.target.getBoundingClientRect(); return this.width / Math.max(1, r.width); }

  toPhoto(e) {
    const r = this.target.getBoundingClientRect();
    return [Math.min(this.width - 0.5, Math.max(0, ((e.clientX - r.left) / r.width) * this.width)),
      Math.min(this.height - 0.5, Math.max(0, ((e.clientY - r.top) / r.height) * this.height))];
  }

  radius() { return Math.max(1, Math.round((this.size / 2) * this.scale())); }

  setTool(tool) { this.tool = tool; this.target.dataset.tool = tool; this.redraw(); }

  region() {
    if (this.box) return { box: [...this.box] };
    return this.dabs.length ? { brush: this.dabs.map((d) => [...d]) } : null;
  }

  set(region) {
    this.box = region?.box ? [...region.box] : null;
    this.dabs = region?.brush ? region.brush.map((d) => [...d]) : [];
    this.history = [];
    this.redraw();
  }

  snapshot() { this.history.push({ box: this.box && [...this.box], dabs: this.dabs.map((d) => [...d]) }); }

  clear() {
    if (this.box || this.dabs.length) this.snapshot();
    this.box = null; this.dabs = []; this.redraw(); this.onChange(null);
  }

  // Undo the last box, stroke, erase or clear (Ctrl+Z on the page).
  undo() {
    const last = this.history.pop();
    if (!last) return false;
    this.box = last.box; this.dabs = last.dabs;
    this.redraw(); this.onChange(this.region());
    return true;
  }

  start(e) {
    if (e.button !== undefined && e.button !== 0) return;
    e.preventDefault();
    this.target.setPointerCapture?.(e.pointerId);
    this.snapshot();
    const p = this.toPhoto(e);
    this.down = { p, added: 0 };
    if (this.tool === "box") this.dabs = []; else this.box = null;  // one region per issue: a box or a brush
    this.apply(p);
  }

  move(e) {
    const p = this.toPhoto(e);
    if (this.tool !== "box") {
      const r = this.radius();
      Object.entries({ cx: p[0], cy: p[1], r, visibility: "visible" }).forEach(([k, v]) => this.cursor.setAttribute(k, v));
      this.cursor.classList.toggle("erasing", this.tool === "erase");
    }
    if (this.down) this.apply(p);
  }

  end(e) {
    if (!this.down) return;
    const p = this.toPhoto(e);
    if (this.tool === "box") {
      const b = this.rect(this.down.p, p);
      this.box = b[2] - b[0] >= 4 && b[3] - b[1] >= 4 ? b : null;
    }
    this.down = null;
    this.redraw();
    this.onChange(this.region());
  }

  rect(a, b) {
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])].map((v) => Math.round(v));
  }

  apply(p) {
    if (this.tool === "box") {
      const [x0, y0, x1, y1] = this.rect(this.down.p, p);
      Object.entries({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, visibility: "visible" }).forEach(([k, v]) => this.preview.setAttribute(k, v));
      return;
    }
    const r = this.radius();
    if (this.tool === "erase") {
      const before = this.dabs.length;
      this.dabs = this.dabs.filter(([x, y]) => Math.hypot(x - p[0], y - p[1]) > r);
      if (this.dabs.length !== before) this.redraw();
      return;
    }
    // Paint: a new dab once the pointer is half a radius from the last one (dabs overlap, no gaps).
    const last = this.down.added ? this.dabs[this.dabs.length - 1] : null;
    if (last && Math.hypot(last[0] - p[0], last[1] - p[1]) < r * 0.5) return;
    if (this.dabs.length >= this.limit) {
      if (!this.down.limited) this.target.dispatchEvent(new CustomEvent("region-limit", { bubbles: true }));
      this.down.limited = true;
      return;
    }
    this.dabs.push([Math.round(p[0] * 10) / 10, Math.round(p[1] * 10) / 10, r]);
    this.down.added++;
    this.redraw();
  }

  redraw() {
    this.svg.replaceChildren();
    if (this.box) drawRegion(this.svg, { box: this.box });
    if (this.dabs.length) drawRegion(this.svg, { brush: this.dabs });
    this.preview.setAttribute("visibility", "hidden");
    this.svg.append(this.preview, this.cursor);
  }
}
