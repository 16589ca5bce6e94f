// Pieces every /try/ page shares: the before/after compare control, zoom and pan of the photo,
// keyboard focus rules, download names and sentences for network failures.

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// Shortcuts are handled at document level unless a person is typing: a focused slider, checkbox or
// button must not swallow V/B/R/Ctrl+Z (the issue: shortcuts stopped after touching a slider).
const TEXT_TYPES = new Set(["text", "search", "email", "url", "tel", "password", "number", "date", "time", ""]);
export function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable || target.closest("textarea, select")) return true;
  const input = target.closest("input");
  return !!input && TEXT_TYPES.has((input.getAttribute("type") || "").toLowerCase());
}

// A slider released after a drag (or a button clicked with the mouse) gives the focus back to the
// page, so the next key is a shortcut and Space pans instead of pressing the button again.
// Keyboard users keep the focus: only pointer releases blur.
export function blurSlidersOnRelease(root = document) {
  root.addEventListener("pointerup", (e) => {
    const t = e.target instanceof Element ? e.target : null;
    const control = t?.closest("input[type=range], input[type=checkbox]") || (e.pointerType === "mouse" && t?.closest("button"));
    if (control) setTimeout(() => control.blur(), 0);
  });
}

// fetch() rejects with a TypeError ("Failed to fetch") when the server cannot be reached at all.
export function isNetworkError(error) { return error instanceof TypeError || error?.name === "TypeError"; }
export function sentence(error, doing) {
  if (isNetworkError(error)) return `Could not reach the server to ${doing}: it may be restarting or your connection dropped. Try again in a moment.`;
  return error?.message || `Could not ${doing}.`;
}

// Pages without a session socket (harmonize, background) learn the server is gone when a request
// fails to reach it: a banner says what did not happen, /api/health/ is asked every 2 s, and the
// banner says when the server is back (the /try/ page's session socket has its own, try-retouch.js).
export function serverWatch(wrap) {
  const banner = document.createElement("div");
  banner.className = "offline-banner"; banner.id = "offline"; banner.setAttribute("role", "status"); banner.hidden = true;
  wrap.append(banner);
  let timer = null, hide = null;
  const check = async () => {
    const up = await fetch("/api/health/", { cache: "no-store" }).then((r) => r.status < 500, () => false);
    if (!up) { timer = setTimeout(check, 2000); return; }
    timer = null;
    banner.className = "offline-banner back"; banner.textContent = "Back online — you can try again.";
    hide = setTimeout(() => { banner.hidden = true; }, 4000);
  };
  return {
    // true (and the banner shown) when `error` means the server could not be reached
    failed(error, what) {
      if (!isNetworkError(error)) return false;
      clearTimeout(hide);
      banner.className = "offline-banner";
      banner.textContent = `The server cannot be reached, so ${what} did not happen. Checking every 2 s…`;
      banner.hidden = false;
      if (!timer) timer = setTimeout(check, 2000);
      return true;
    },
  };
}

// `<original name>-<suffix>.<extension of the file served>`: "portrait.jpg" → "portrait-retouched.png".
export function downloadName(originalName, suffix, url) {
  const stem = (originalName || "photo").replace(/\.[^.]+$/, "") || "photo";
  const ext = (String(url || "").split("?")[0].split(".").pop() || "png").toLowerCase();
  return `${stem}-${suffix}.${/^[a-z0-9]{2,5}$/.test(ext) ? ext : "png"}`;
}

// A link that saves the file under `name`: files this server serves (/media/…) come back as an
// attachment with that name (?download=, webapp/media_views.py; the header wins over the link's
// download attribute, which alone would give the stored "<token>-image.png"); other origins keep
// their URL and rely on the download attribute.
export function setDownload(link, url, name) {
  const own = url.startsWith("/") && !url.startsWith("//");
  link.href = own ? `${url}${url.includes("?") ? "&" : "?"}download=${encodeURIComponent(name)}` : url;
  link.setAttribute("download", name);
  link.hidden = false;
}

// On a narrow screen (the panel goes below the stage) the stage is as tall as the photo needs, at
// most 62 % of the screen, so a wide photo does not sit in a tall empty box.
export function sizeStage(wrap, width, height) {
  if (!window.matchMedia("(max-width: 860px)").matches || !width || !height) { wrap.style.height = ""; return; }
  const room = Math.max(1, wrap.clientWidth - 32);
  wrap.style.height = `${Math.round(Math.min(window.innerHeight * 0.62, Math.max(240, (room * height) / width + 84)))}px`;
}

// On a narrow screen the panel is below the stage: after an action there (paste, run, pick) the
// photo it changed is brought back into view.
export function revealStage(wrap) {
  if (!window.matchMedia("(max-width: 860px)").matches) return;
  const stage = wrap.closest(".try-stage") || wrap;
  if (stage.getBoundingClientRect().top < 0 || stage.getBoundingClientRect().bottom > window.innerHeight) {
    stage.scrollIntoView({ block: "start", behavior: "instant" });
  }
}

// ---------------------------------------------------------------- compare (before / after)
// The result is on show by default ("after"). "Split" shows a divider on the photo: the original to
// its left, the result to its right, and dragging it never adds a point. Holding the button, or
// the \ or B key, shows the original until released (Lightroom's \ and Photopea's hold-to-compare).
// State on the canvas: data-compare = after | split | before, --split = the divider's position.
export function compareControl({ canvas, group, wrap, onChange }) {
  const labels = wrap ? [...wrap.querySelectorAll(".compare-label")] : [];
  const buttons = Object.fromEntries([...group.querySelectorAll("[data-compare]")].map((b) => [b.dataset.compare, b]));
  const hold = group.querySelector("[data-hold]");
  const line = canvas.querySelector(".split-line");
  let mode = "after", holding = false, position = 50, dragging = null;

  function apply() {
    const shown = holding ? "before" : mode;
    canvas.dataset.compare = shown;
    canvas.classList.toggle("before-only", holding);
    canvas.classList.toggle("split-on", shown === "split");
    canvas.style.setProperty("--split", shown === "split" ? `${position}%` : "0%");
    for (const [m, b] of Object.entries(buttons)) { b.classList.toggle("active", m === mode); b.setAttribute("aria-pressed", String(m === mode)); }
    hold?.classList.toggle("active", holding);
    if (line) {
      line.setAttribute("aria-valuenow", String(Math.round(position)));
      line.setAttribute("aria-valuetext", `original on the left ${Math.round(position)}%, result on the right`);
    }
    if (wrap) wrap.dataset.compare = shown;
    placeLabels();
    onChange?.(shown);
  }
  // the labels sit at the top corners of the part of the photo in view (at any zoom)
  function placeLabels() {
    if (!wrap || canvas.hidden) return;
    const c = canvas.getBoundingClientRect(), w = wrap.getBoundingClientRect();
    const left = Math.max(c.left, w.left) - w.left, right = w.right - Math.min(c.right, w.right), top = Math.max(c.top, w.top) - w.top;
    for (const label of labels) {
      label.style.top = `${top + 8}px`;
      if (label.classList.contains("left")) label.style.left = `${left + 8}px`; else label.style.right = `${right + 8}px`;
    }
  }
  canvas.addEventListener("zoom", placeLabels);
  window.addEventListener("resize", placeLabels);
  const setMode = (m) => { mode = m; apply(); };
  const setHolding = (on) => { if (holding !== on) { holding = on; apply(); } };
  for (const [m, b] of Object.entries(buttons)) b.addEventListener("click", () => setMode(m));
  if (hold) {
    hold.addEventListener("pointerdown", (e) => { e.preventDefault(); hold.setPointerCapture?.(e.pointerId); setHolding(true); });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) hold.addEventListener(type, () => setHolding(false));
    hold.addEventListener("keydown", (e) => { if (e.key === " " || e.key === "Enter") { e.preventDefault(); setHolding(true); } });
    hold.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") setHolding(false); });
    hold.addEventListener("contextmenu", (e) => e.preventDefault()); // a long press on a phone
  }
  const isHoldKey = (e) => e.key === "\\" || e.key.toLowerCase() === "b";
  document.addEventListener("keydown", (e) => {
    if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (isHoldKey(e)) { e.preventDefault(); setHolding(true); }
    else if (e.key.toLowerCase() === "y" && !e.repeat) setMode(mode === "split" ? "after" : "split");
  });
  document.addEventListener("keyup", (e) => { if (isHoldKey(e)) setHolding(false); });
  window.addEventListener("blur", () => setHolding(false));

  if (line) {
    // the divider owns its pointer: the photo's click handlers never see a drag that starts on it
    const moveTo = (clientX) => {
      const r = canvas.getBoundingClientRect();
      position = clamp(((clientX - r.left) / r.width) * 100, 0, 100); apply();
    };
    line.addEventListener("pointerdown", (e) => {
      e.stopPropagation(); e.preventDefault();
      line.setPointerCapture(e.pointerId); dragging = e.pointerId; line.classList.add("dragging");
    });
    line.addEventListener("pointermove", (e) => { if (dragging === e.pointerId) { e.stopPropagation(); moveTo(e.clientX); } });
    const end = (e) => { if (dragging === e.pointerId) { dragging = null; line.classList.remove("dragging"); } };
    line.addEventListener("pointerup", end); line.addEventListener("pointercancel", end);
    for (const type of ["mousedown", "click", "dblclick", "contextmenu"]) line.addEventListener(type, (e) => { e.stopPropagation(); e.preventDefault(); });
    line.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 10 : 2;
      if (e.key === "ArrowLeft") position = clamp(position - step, 0, 100);
      else if (e.key === "ArrowRight") position = clamp(position + step, 0, 100);
      else if (e.key === "Home") position = 0;
      else if (e.key === "End") position = 100;
      else return;
      e.preventDefault(); e.stopPropagation(); apply();
    });
  }
  apply();
  return { get shown() { return holding ? "before" : mode; }, setMode, setHolding, placeLabels };
}

// ---------------------------------------------------------------- zoom and pan
// Wheel or pinch zooms about the pointer; Space + drag, the middle button, the hand tool (H) or
// (where touchDragPans) a one-finger drag pans; double-click outside the photo, the Fit button or 0
// fits it again; + and − zoom about the centre. The photo is scaled with a CSS transform, so
// getBoundingClientRect() (which every page maps clicks with) stays exact at any zoom.
// `onGesture` is called when a touch turns into a pinch or a pan: the page drops its pending tap.
export function zoomPan({ wrap, canvas, imageWidth, onGesture, touchDragPans = false, maxZoom = 16 }) {
  let z = 1, tx = 0, ty = 0, space = false, hand = false, pan = null;
  const touches = new Map(); // pointerId → {x, y}
  let pinch = null;          // {d, mx, my}

  const bar = document.createElement("div");
  bar.className = "zoom-bar"; bar.setAttribute("role", "group"); bar.setAttribute("aria-label", "Zoom");
  bar.innerHTML = '<button type="button" class="zoom-btn" data-zoom="out" title="Zoom out (−)" aria-label="Zoom out">−</button>'
    + '<output class="zoom-level" aria-live="off">Fit</output>'
    + '<button type="button" class="zoom-btn" data-zoom="in" title="Zoom in (+), or use the wheel / pinch" aria-label="Zoom in">+</button>'
    + '<button type="button" class="zoom-btn" data-zoom="fit" title="Fit the photo (0, or double-click beside it)">Fit</button>'
    + '<button type="button" class="zoom-btn" data-zoom="hand" aria-pressed="false" title="Hand tool: drag to pan (H, or hold Space)">Pan</button>';
  wrap.append(bar);
  const level = bar.querySelector(".zoom-level"), handBtn = bar.querySelector("[data-zoom=hand]");

  function clampPan() {
    if (z <= 1.0001) { z = 1; tx = 0; ty = 0; return; }
    // keep the photo over the middle of the view
    const W = wrap.clientWidth, H = wrap.clientHeight;
    const L = canvas.offsetLeft, T = canvas.offsetTop, w = canvas.offsetWidth * z, h = canvas.offsetHeight * z;
    tx = clamp(tx, W / 2 - L - w, W / 2 - L);
    ty = clamp(ty, H / 2 - T - h, H / 2 - T);
  }
  function apply() {
    clampPan();
    canvas.style.transform = z === 1 ? "" : `translate(${tx}px, ${ty}px) scale(${z})`;
    canvas.style.setProperty("--zoom", String(z));
    canvas.dataset.zoom = z.toFixed(3);
    const actual = imageWidth?.() ? (canvas.offsetWidth * z) / imageWidth() : null;
    level.textContent = actual ? `${Math.round(actual * 100)}%` : `${z.toFixed(1)}×`;
    level.title = "Size on screen of the photo's pixels";
    canvas.dispatchEvent(new Event("zoom"));
  }
  function zoomAt(clientX, clientY, factor) {
    const r = canvas.getBoundingClientRect();
    const next = clamp(z * factor, 1, maxZoom);
    tx += (clientX - r.left) * (1 - next / z); ty += (clientY - r.top) * (1 - next / z);
    z = next; apply();
  }
  const centre = () => { const r = wrap.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; };
  const fit = () => { z = 1; apply(); };
  const setHand = (on) => { hand = on; handBtn.classList.toggle("active", on); handBtn.setAttribute("aria-pressed", String(on)); cursor(); };
  const cursor = () => { wrap.classList.toggle("panning", space || hand || !!pan); };

  bar.addEventListener("pointerdown", (e) => e.stopPropagation());
  bar.addEventListener("dblclick", (e) => e.stopPropagation());
  bar.addEventListener("click", (e) => {
    const b = e.target.closest("[data-zoom]"); if (!b) return;
    if (b.dataset.zoom === "in") zoomAt(...centre(), 1.5);
    else if (b.dataset.zoom === "out") zoomAt(...centre(), 1 / 1.5);
    else if (b.dataset.zoom === "fit") fit();
    else setHand(!hand);
  });

  wrap.addEventListener("wheel", (e) => {
    if (e.defaultPrevented || canvas.hidden) return; // a tool's own wheel (resizing a person) wins
    e.preventDefault();
    zoomAt(e.clientX, e.clientY, Math.exp(-clamp(e.deltaY, -100, 100) * (e.ctrlKey ? 0.01 : 0.002)));
  }, { passive: false });

  const startPan = (e) => {
    pan = { id: e.pointerId, x: e.clientX, y: e.clientY };
    e.stopPropagation(); e.preventDefault();
    wrap.setPointerCapture?.(e.pointerId); cursor();
  };
  wrap.addEventListener("pointerdown", (e) => {
    if (canvas.hidden) return;
    if (e.pointerType === "touch") {
      touches.set(e.pointerId, { x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY });
      if (touches.size === 2) {
        const [a, b] = [...touches.values()];
        pinch = { d: Math.hypot(a.x - b.x, a.y - b.y), mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2 };
        pan = null; e.stopPropagation(); e.preventDefault(); onGesture?.(); return;
      }
    }
    if (space || hand || e.button === 1) startPan(e);
  }, { capture: true });
  window.addEventListener("pointermove", (e) => {
    const t = touches.get(e.pointerId);
    if (t) {
      t.x = e.clientX; t.y = e.clientY;
      if (pinch && touches.size >= 2) {
        const [a, b] = [...touches.values()];
        const d = Math.hypot(a.x - b.x, a.y - b.y), mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
        tx += mx - pinch.mx; ty += my - pinch.my;
        zoomAt(mx, my, pinch.d > 0 ? d / pinch.d : 1);
        pinch = { d, mx, my }; return;
      }
      if (touchDragPans && !pan && touches.size === 1 && Math.hypot(t.x - t.x0, t.y - t.y0) > 10 && z > 1) {
        pan = { id: e.pointerId, x: t.x, y: t.y }; onGesture?.(); cursor();
      }
    }
    if (pan && e.pointerId === pan.id) {
      tx += e.clientX - pan.x; ty += e.clientY - pan.y; pan.x = e.clientX; pan.y = e.clientY; apply();
    }
  }, { capture: true });
  const up = (e) => {
    touches.delete(e.pointerId);
    if (touches.size < 2) pinch = null;
    if (pan && e.pointerId === pan.id) { pan = null; cursor(); }
  };
  window.addEventListener("pointerup", up, { capture: true });
  window.addEventListener("pointercancel", up, { capture: true });
  wrap.addEventListener("dblclick", (e) => {
    if (canvas.hidden) return;
    if (!canvas.contains(e.target) || space || hand) { e.preventDefault(); fit(); }
  });

  document.addEventListener("keydown", (e) => {
    if (isTyping(e.target) || canvas.hidden) return;
    if (e.key === " " && !e.target.closest?.("button, a, summary, [role=slider]")) { e.preventDefault(); space = true; cursor(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "+" || e.key === "=") zoomAt(...centre(), 1.5);
    else if (e.key === "-" || e.key === "_") zoomAt(...centre(), 1 / 1.5);
    else if (e.key === "0") fit();
    else if (e.key.toLowerCase() === "h" && !e.repeat) setHand(!hand);
  });
  document.addEventListener("keyup", (e) => { if (e.key === " ") { space = false; cursor(); } });
  window.addEventListener("blur", () => { space = false; cursor(); });
  window.addEventListener("resize", () => apply());
  canvas.style.transformOrigin = "0 0";
  apply();
  // true while a pan is in progress or about to start: pages skip their own pointer handling then
  return { fit, reset: fit, apply, get zoom() { return z; }, get panning() { return !!pan || !!pinch || space || hand; } };
}
