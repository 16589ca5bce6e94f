// Participant flow: welcome (device and window check) → consent → instructions (→ full screen, if the
// study asks) → practice trials, each followed by feedback → trials, with a fixation gap between them →
// end questionnaire (if the study asks) → completion code.
// Exactly-once answers: one idempotency key per trial (kept in localStorage), a lock against double
// clicks, and retries with backoff; a reload resumes at the first unanswered trial. Joining is
// exactly-once too: the button is disabled while the join is pending, and a key per tab (client_key)
// makes a repeated join resume the participant the first one made. A closed or full study (409)
// shows its message instead of trials.
// An answer counts only once the trial has been seen: every image decoded and painted, then a minimum
// viewing time. Until then the answer buttons are disabled and keys are ignored; #trial gets
// data-ready when answers are accepted.
// The device is checked before consent: a screen that can never show the study's window (a phone) is
// told so, with the way back to the recruiting platform, instead of being stopped after consenting.
// During trials the window is watched: below the study's minimum the trial is covered until enlarged.
// Focus: every step moves the keyboard focus to its next control (never left on the page's body).
// Zoom: Z (or the Zoom button) shows a loupe on every image of the trial at the same spot, at native
// pixels; the pointer or Shift+arrows move it.
// What differs between study kinds (the trial's layout, its keys, the instructions' title) is the kind's
// module, named by the page (data-kind-module; studies/kinds.py), e.g. study-kind-pairwise.js.

const app = document.getElementById("app");
const publicId = app.dataset.study;
const store = `plab.study.${publicId}`;
const PLATFORM_PARAMS = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "assignmentId", "workerId", "hitId", "turkSubmitTo"];
const MIN_VIEW_MS = 400;  // used when neither the trial nor the study says how long a trial must be seen
const QUESTION_LABELS = { age_band: "Age", gender: "Gender", vision_correction: "Vision correction",
  colour_vision: "Colour vision" };

let info = null;
let token = localStorage.getItem(`${store}.token`);
let current = null;    // the trial on screen
let shownAt = 0;       // when its images were all visible
let ready = false;     // its images were shown for the minimum viewing time: answers are accepted
let busy = false;      // an answer is in flight
let tooSmall = false;  // the window shrank below the study's minimum during trials
let view = null;       // the kind module's view of the current trial: { stage, foot, images, key }
const zoom = { on: false, u: 0.5, v: 0.5 };  // the loupe, at (u, v) of every image (0..1)
const kind = import(app.dataset.kindModule);

const h = (tag, attrs = {}, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) n.setAttribute(k, v === true ? "" : v);
  }
  n.append(...kids.filter((k) => k !== null && k !== undefined && k !== false));
  return n;
};

function toast(message, kind = "info") {
  const el = h("div", { class: `toast ${kind}`, text: message, role: kind === "error" ? "alert" : "status" });
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), 4000);
}

async function call(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers["X-Participant-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store" });
  let data = null;
  try { data = await r.json(); } catch { /* empty */ }
  return { status: r.status, data };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Retries network failures and 5xx with backoff; returns the first non-retryable answer.
async function reliably(path, options) {
  let delay = 400;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await call(path, options);
      if (r.status < 500) return r;
    } catch { /* offline or server restarting */ }
    if (attempt === 2) setStatus("Connection problem — retrying…");
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}

function setStatus(text) {
  const el = document.getElementById("net-status");
  if (el) el.textContent = text;
}

function screenInfo() {
  const ua = navigator.userAgent;
  const browser = (ua.match(/(Firefox|Edg|OPR|Chrome|Safari)\/[\d.]+/) || [ua.slice(0, 60)])[0];
  return { width: innerWidth, height: innerHeight, screen_width: screen.width, screen_height: screen.height,
    dpr: devicePixelRatio, browser, user_agent: ua.slice(0, 250) };
}

// Shows one step and moves the keyboard focus to ``focus`` (its next control), never to the body.
function show(node, focus) {
  app.replaceChildren(node);
  document.body.classList.toggle("p-trial-mode", node.id === "trial" || node.id === "fixation");
  window.scrollTo(0, 0);
  focusOn(focus || node.querySelector("button:not(:disabled), a[href], input, select, textarea") || node);
}

function focusOn(el) {
  if (!el) return;
  if (!el.matches("button, a[href], input, select, textarea, [tabindex]")) el.setAttribute("tabindex", "-1");
  el.focus({ preventScroll: true });
}

function urlParams() {
  const out = {};
  for (const [k, v] of new URLSearchParams(location.search)) out[k] = v;
  return out;
}

// Where a participant who cannot take part goes back to: their platform's own page, from the link's
// parameters (Prolific: return the submission there; MTurk: return the HIT). None without them.
function platformReturn() {
  const params = urlParams();
  if (params.PROLIFIC_PID) return { name: "Prolific", href: "https://app.prolific.com/submissions" };
  if (params.workerId || params.assignmentId) {
    const sandbox = /sandbox/i.test(params.turkSubmitTo || "");
    return { name: "MTurk", href: sandbox ? "https://workersandbox.mturk.com/tasks" : "https://worker.mturk.com/tasks" };
  }
  return null;
}

function returnLink(why) {
  const back = platformReturn();
  if (!back) return null;
  return h("p", { class: "p-return" }, h("a", { class: "button", id: "platform-return", href: back.href, rel: "noreferrer",
    text: `Return to ${back.name}` }), h("span", { class: "muted small", text: why.replace("{platform}", back.name) }));
}

// ---------------------------------------------------------------- before joining

const needed = () => info.window || { width: info.min_width, height: info.min_height };
const windowFits = () => innerWidth >= needed().width && innerHeight >= needed().height;
// A screen smaller than the window the study needs (in either orientation) can never show it: a phone.
function deviceFits() {
  const { width, height } = needed();
  const long = Math.max(screen.width, screen.height), short = Math.min(screen.width, screen.height);
  return long >= width && short >= height;
}

let onResize = null;
function watchResize(handler) {
  if (onResize) removeEventListener("resize", onResize);
  onResize = handler;
  if (handler) addEventListener("resize", handler);
}

function welcomeStep() {
  const need = needed();
  if (!deviceFits()) return unsuitableDevice();
  const status = h("p", { class: "p-screen-status", id: "screen-status", role: "status" });
  const go = h("button", { class: "button", id: "welcome-continue", text: "Continue", onclick: () => { watchResize(null); consentStep(); } });
  const check = () => {
    const ok = windowFits();
    status.className = `p-screen-status ${ok ? "ok" : "bad"}`;
    status.textContent = ok
      ? `Your window is ${innerWidth} × ${innerHeight} pixels — large enough.`
      : `Your window is ${innerWidth} × ${innerHeight} pixels; please enlarge it to at least ${need.width} × ${need.height} (maximise the window, or zoom the page out with Ctrl and minus).`;
    const had = document.activeElement === go;
    go.disabled = !ok;
    if (!ok && had) focusOn(status);
    if (ok && document.activeElement === status) focusOn(go);
  };
  check();
  watchResize(check);
  show(h("section", { class: "p-card", id: "welcome" },
    h("p", { class: "eyebrow", text: "Welcome" }),
    h("h1", { text: info.title }),
    h("p", { class: "p-text", text: "You will compare retouched versions of portrait photographs and say which you prefer. The photographs must be shown large: use a laptop or desktop computer, at normal brightness, away from reflections." }),
    status, h("div", { class: "p-actions" }, go)), windowFits() ? go : status);
}

function unsuitableDevice() {
  const need = needed();
  const copy = h("button", { class: "button ghost small", id: "copy-link", text: "Copy the link", onclick: async () => {
    try { await navigator.clipboard.writeText(location.href); toast("Link copied."); } catch { toast("Select the link and copy it."); }
  } });
  const back = returnLink("If you cannot switch to a computer, return the study on {platform} so that your place goes to someone else; nothing was recorded.");
  show(h("section", { class: "p-card", id: "device-check" },
    h("p", { class: "eyebrow", text: "Device check" }),
    h("h1", { text: "This study needs a computer" }),
    h("p", { class: "p-text", text: `Your screen is ${screen.width} × ${screen.height} pixels; the photographs need a window of at least ${need.width} × ${need.height}, which a phone cannot show. Open this link on a laptop or desktop computer to take part.` }),
    h("div", { class: "p-link-row" }, h("code", { class: "p-link", text: location.href }), copy),
    back), back ? back.querySelector("a") : copy);
}

function consentStep() {
  const box = h("input", { type: "checkbox", id: "consent-box" });
  const go = h("button", { class: "button", id: "consent-continue", disabled: true, text: "Continue",
    onclick: joinAndInstruct });
  box.addEventListener("change", () => { go.disabled = !box.checked; });
  const params = urlParams();
  const platform = PLATFORM_PARAMS.filter((p) => params[p]);
  show(h("section", { class: "p-card", id: "consent" },
    h("p", { class: "eyebrow", text: "Before you begin" }),
    h("h1", { text: "Consent" }),
    h("div", { class: "p-text", text: info.consent_text }),
    platform.length ? h("p", { class: "muted small", text: `Your ${platform.includes("PROLIFIC_PID") ? "Prolific" : "MTurk"} ID is recorded so that you can be paid.` }) : null,
    h("label", { class: "p-check", for: "consent-box" }, box, h("span", { text: "I have read the above and agree to take part." })),
    h("div", { class: "p-actions" }, go)), box);
}

// One key per join attempt, kept for this tab: a retried or repeated join (a lost reply, clicks during
// an outage) finds the participant the first one made instead of making another.
function joinKey() {
  const k = `${store}.join_key`;
  let key = sessionStorage.getItem(k);
  if (!key) {
    key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    sessionStorage.setItem(k, key);
  }
  return key;
}

async function joinAndInstruct(event) {
  const button = event?.currentTarget;
  if (button) { button.disabled = true; button.textContent = "Joining…"; }
  const { status, data } = await reliably(`/api/participate/${publicId}/join/`, { method: "POST",
    body: { consent: true, params: urlParams(), screen: screenInfo(), client_key: joinKey() } });
  if (status === 409) return notTakingPart(data?.detail);  // closed or full
  if (status !== 201 && status !== 200) {
    toast(data?.detail || "Could not join the study.", "error");
    if (button) { button.disabled = false; button.textContent = "Continue"; button.focus(); }
    return;
  }
  token = data.participant_token;
  localStorage.setItem(`${store}.token`, token);
  instructionsStep();
}

function notTakingPart(detail) {
  current = null;
  watchResize(null);
  document.getElementById("progress").hidden = true;
  const back = returnLink("Return the study on {platform}; nothing more is needed from you.");
  const heading = h("h1", { text: info.title });
  show(h("section", { class: "p-card", id: "closed" }, heading,
    h("p", { class: "p-text", text: detail || "This study is not accepting participants at the moment. Thank you for your interest." }),
    back), back ? back.querySelector("a") : heading);
}

async function instructionsStep() {
  const { heading, keyHints } = await kind;
  show(h("section", { class: "p-card", id: "instructions" },
    h("p", { class: "eyebrow", text: "Instructions" }),
    h("h1", { text: heading }),
    h("div", { class: "p-text", text: info.instructions }),
    keyHints(info, h),
    h("p", { class: "p-keys" }, h("kbd", { text: "Z" }), " zoom: a loupe shows the same spot of every image at full resolution; move it with the mouse or ",
      h("kbd", { text: "Shift" }), "+arrows."),
    info.practice_trials ? h("p", { class: "muted", text: `The first ${info.practice_trials} trials are practice; you will be told how each went.` }) : null,
    info.fullscreen ? h("p", { class: "muted", text: "The study runs in full screen; press Esc to leave it." }) : null,
    h("div", { class: "p-actions" }, h("button", { class: "button", id: "start", text: info.practice_trials ? "Start practice" : "Start",
      onclick: () => { enterFullscreen(); nextTrial(); } }))));
}

// ---------------------------------------------------------------- full screen

function enterFullscreen() {
  if (!info.fullscreen || !document.fullscreenEnabled || document.fullscreenElement) return;
  document.documentElement.requestFullscreen().catch(() => { /* refused: the study goes on windowed */ });
}

function fullscreenButton() {
  const button = document.getElementById("fullscreen-toggle");
  if (!button) return;
  button.hidden = !(info?.fullscreen && document.fullscreenEnabled && token);
  button.textContent = document.fullscreenElement ? "Exit full screen" : "Full screen";
}

document.getElementById("fullscreen-toggle")?.addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => toast("Full screen is not available here."));
});
document.addEventListener("fullscreenchange", fullscreenButton);

// ---------------------------------------------------------------- trials

// The participant's next step after ``next/``'s answer.
async function proceed({ status, data }) {
  if (status === 401) { localStorage.removeItem(`${store}.token`); token = null; return start(); }
  if (status === 409) return notTakingPart(data?.detail);  // the study closed
  if (data.done) return data.questionnaire && info.questionnaire ? questionnaireStep(data) : completion(data);
  renderTrial(data, await kind);
}

async function nextTrial() {
  fullscreenButton();
  return proceed(await reliably("/api/participate/next/"));
}

function preload(urls) {
  for (const url of urls || []) { const img = new Image(); img.decoding = "async"; img.src = url; }
}

function progress(p) {
  const box = document.getElementById("progress");
  box.hidden = false;
  document.getElementById("progress-bar").style.width = `${(100 * p.done) / p.total}%`;
  document.getElementById("progress-text").textContent = `${p.done} / ${p.total}`;
  box.querySelector("[role=progressbar]")?.setAttribute("aria-valuenow", String(Math.round((100 * p.done) / p.total)));
}

const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

// Resolves true once every image is decoded and painted, false if one could not be loaded.
async function whenShown(imgs) {
  const ok = await Promise.all(imgs.map((img) => img.decode().then(() => true, () => img.naturalWidth > 0)));
  await nextFrame();
  return ok.every(Boolean);
}

// The page's own minimum, or the study's (min_view_ms: the server refuses answers given sooner).
function minViewMs(trial) {
  return Math.max(MIN_VIEW_MS, trial.min_view_ms ?? info?.min_view_ms ?? 0);
}

// The one gate for clicks and keys.
const accepting = () => Boolean(current) && ready && !busy && !tooSmall;

function setReady(on) {
  ready = on;
  const box = document.getElementById("trial");
  if (!box) return;
  const open = on && !tooSmall;
  box.toggleAttribute("data-ready", open);
  box.querySelectorAll("[data-answer]").forEach((b) => { b.disabled = !open; });
  // The next control: the first answer, unless the participant has moved focus elsewhere meanwhile.
  if (open && (document.activeElement === box || document.activeElement === document.body)) {
    box.querySelector("[data-answer]:not(:disabled)")?.focus({ preventScroll: true });
  }
}

async function armTrial(trial, imgs) {
  const shown = await whenShown(imgs);
  if (current !== trial) return;
  if (!shown) { setStatus("An image did not load. Reload the page to try again."); return; }
  shownAt = performance.now();
  drawLoupes();
  setTimeout(() => { if (current === trial) setReady(true); }, minViewMs(trial));
}

// An image in a box that can carry the loupe (the same spot of every image of the trial).
function imageBox(url, alt) {
  const img = h("img", { src: url, alt, draggable: "false" });
  const loupe = h("span", { class: "p-loupe", "aria-hidden": "true" });
  const box = h("span", { class: "p-img-box" }, img, loupe);
  box.addEventListener("pointermove", (e) => {
    if (!zoom.on) return;
    const c = contentRect(box, img);
    if (!c) return;
    zoom.u = Math.min(1, Math.max(0, (e.clientX - c.left) / c.width));
    zoom.v = Math.min(1, Math.max(0, (e.clientY - c.top) / c.height));
    drawLoupes();
  });
  return { box, img };
}

// Where the picture itself is drawn in its box (object-fit: contain leaves bars).
function contentRect(box, img) {
  if (!img.naturalWidth) return null;
  const r = box.getBoundingClientRect();
  const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  const width = img.naturalWidth * scale, height = img.naturalHeight * scale;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height, scale, box: r };
}

function drawLoupes() {
  document.getElementById("zoom-toggle")?.setAttribute("aria-pressed", String(zoom.on));
  document.getElementById("trial")?.classList.toggle("zooming", zoom.on);
  for (const box of document.querySelectorAll("#trial .p-img-box")) {
    const img = box.querySelector("img"), loupe = box.querySelector(".p-loupe");
    const c = contentRect(box, img);
    loupe.hidden = !zoom.on || !c;
    if (loupe.hidden) continue;
    const size = Math.round(Math.min(280, Math.max(120, 0.5 * Math.min(c.box.width, c.box.height))));
    const magnified = Math.max(1, 2 * c.scale);  // screen pixels per image pixel: native, or 2× the view
    const x = c.left - c.box.left + zoom.u * c.width, y = c.top - c.box.top + zoom.v * c.height;
    Object.assign(loupe.style, {
      width: `${size}px`, height: `${size}px`, left: `${x - size / 2}px`, top: `${y - size / 2}px`,
      backgroundImage: `url("${img.currentSrc || img.src}")`,
      backgroundSize: `${img.naturalWidth * magnified}px ${img.naturalHeight * magnified}px`,
      backgroundPosition: `${size / 2 - zoom.u * img.naturalWidth * magnified}px ${size / 2 - zoom.v * img.naturalHeight * magnified}px`,
    });
  }
}

function setZoom(on) {
  zoom.on = on;
  drawLoupes();
}

const zooming = () => zoom.on;

// During trials the window must stay as large as the study needs: below it the trial is covered.
function guardWindow() {
  const small = !windowFits();
  if (small === tooSmall && !small) return;
  tooSmall = small;
  document.getElementById("window-guard")?.remove();
  if (small) {
    const need = needed();
    document.body.append(h("div", { class: "p-guard", id: "window-guard", role: "alertdialog", "aria-modal": "true",
      "aria-labelledby": "window-guard-title" },
    h("div", { class: "p-card" }, h("h2", { id: "window-guard-title", text: "Please enlarge the window" }),
      h("p", { class: "p-text", text: `The window is ${innerWidth} × ${innerHeight} pixels; this study needs at least ${need.width} × ${need.height} so that the photographs are shown large enough. The trial continues once the window is large enough.` }))));
  }
  setReady(ready);
  drawLoupes();
}

function renderTrial(trial, { trialView }) {
  current = trial;
  busy = false;
  ready = false;
  shownAt = 0;
  progress(trial.progress);
  const original = imageBox(trial.input_url, "Original photograph");
  original.img.classList.add("p-input");
  view = trialView(trial, { h, answer, accepting, imageBox, zooming });
  const zoomButton = h("button", { class: "button ghost small", id: "zoom-toggle", "aria-pressed": String(zoom.on),
    onclick: () => setZoom(!zoom.on) }, "Zoom ", h("kbd", { text: "Z" }));
  const label = trial.practice ? "Practice trial" : `Trial ${trial.progress.done + 1} of ${trial.progress.total}`;
  const section = h("section", { class: `p-trial ${trial.practice ? "practice" : ""}`, id: "trial", "data-trial": trial.trial_id,
    "aria-label": label, tabindex: "-1" },
  h("figure", { class: "p-original" }, original.box, h("figcaption", { class: "p-caption", text: "Original" })),
  view.stage,
  h("div", { class: "p-trial-foot" },
    trial.practice ? h("span", { class: "badge p-practice", text: "Practice" }) : null,
    h("span", { class: "p-foot-main" }, view.foot),
    zoomButton,
    h("span", { class: "muted small p-net", id: "net-status", role: "status" })));
  show(section, section);  // the answers take focus once they are enabled (setReady)
  watchResize(guardWindow);
  tooSmall = false;
  guardWindow();
  armTrial(trial, [original.img, ...view.images]);
  preload(trial.upcoming);
}

function keyFor(trialId) {
  const k = `${store}.key.${trialId}`;
  let key = localStorage.getItem(k);
  if (!key) {
    key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    localStorage.setItem(k, key);
  }
  return key;
}

// fields: the kind's answer ({choice} or {order}); picked: the element to mark as chosen, if any.
async function answer(fields, picked) {
  if (!accepting()) return;
  busy = true;
  const trial = current;
  setReady(false);
  document.getElementById("trial")?.classList.add("sending");
  picked?.classList.add("picked");
  const elapsed = Math.round(performance.now() - shownAt);
  const body = { ...fields, idempotency_key: keyFor(trial.trial_id), elapsed_ms: elapsed };
  const { status, data } = await reliably(`/api/participate/trials/${trial.trial_id}/response/`, { method: "POST", body });
  if (status === 201 || status === 200 || status === 409) {
    localStorage.removeItem(`${store}.key.${trial.trial_id}`);
    return afterAnswer(trial, fields);
  }
  toast(data?.detail || "That answer was not accepted.", "error");
  busy = false;
  setReady(true);
  document.getElementById("trial")?.classList.remove("sending");
  picked?.classList.remove("picked");
}

// After a practice answer: its feedback. After a real one: the fixation gap (the next trial is fetched
// meanwhile, so the gap adds no waiting of its own beyond the study's gap_ms).
async function afterAnswer(trial, fields) {
  const next = reliably("/api/participate/next/");
  if (trial.practice) return practiceFeedback(trial, fields, await next);
  if (info.gap_ms > 0) {
    current = null;
    show(h("section", { class: "p-fixation", id: "fixation", "aria-label": "Next trial", tabindex: "-1" },
      h("span", { class: "p-cross", "aria-hidden": "true", text: "+" })));
    await Promise.all([next, sleep(info.gap_ms)]);
  }
  return proceed(await next);
}

function matchesExpected(expected, fields) {
  if (!expected) return null;
  if (expected.choice) return fields.choice === expected.choice;
  if (expected.worst !== undefined) return Array.isArray(fields.order) && fields.order.at(-1) === expected.worst;
  return null;
}

function practiceFeedback(trial, fields, next) {
  current = null;
  const matched = matchesExpected(trial.expected, fields);
  const last = next.status === 200 && !next.data?.done && !next.data?.practice;
  const ranking = trial.expected && trial.expected.worst !== undefined;
  const text = matched === null ? "Answer recorded. This one has no right answer: choose what looks better to you."
    : ranking ? (matched ? "✓ As expected: you ranked the deliberately degraded result (blurred and noisy) last."
      : `✗ Not the expected answer: result ${trial.expected.worst + 1} was deliberately degraded (blurred and noisy) and belongs last. Look for blur, noise and halos.`)
      : (matched ? "✓ As expected: the other image was deliberately degraded (blurred and noisy)."
        : `✗ Not the expected answer: the ${trial.expected.choice} image was the better one; the other was deliberately degraded. Look for blur, noise and halos.`);
  const verdict = h("p", { class: `p-feedback ${matched === null ? "" : matched ? "ok" : "bad"}`, id: "practice-verdict", text });
  const go = h("button", { class: "button", id: last ? "begin" : "practice-continue",
    text: last ? "Begin the real trials" : "Next practice trial", onclick: () => proceed(next) });
  show(h("section", { class: "p-card", id: last ? "practice-done" : "practice-feedback" },
    h("p", { class: "eyebrow", text: last ? "Practice complete" : "Practice" }),
    h("h1", { text: last ? "Now the real trials" : "How that went" }),
    verdict,
    last ? h("p", { class: "p-text", text: "From here on every answer counts. Take your time, but trust your first impression." }) : null,
    h("div", { class: "p-actions" }, go)), go);
}

addEventListener("keydown", (e) => {
  if (!current || !view || !document.getElementById("trial")) return;
  if (e.target.closest?.("input, select, textarea")) return;
  if ((e.key === "z" || e.key === "Z") && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); setZoom(!zoom.on); return; }
  if (e.key === "Escape" && zoom.on) { setZoom(false); return; }
  if (zoom.on && e.shiftKey && e.key.startsWith("Arrow")) {
    e.preventDefault();
    const step = 0.04;
    if (e.key === "ArrowLeft") zoom.u = Math.max(0, zoom.u - step);
    if (e.key === "ArrowRight") zoom.u = Math.min(1, zoom.u + step);
    if (e.key === "ArrowUp") zoom.v = Math.max(0, zoom.v - step);
    if (e.key === "ArrowDown") zoom.v = Math.min(1, zoom.v + step);
    drawLoupes();
    return;
  }
  const action = view.key(e);  // the action the key stands for on this trial, or null
  if (!action) return;
  e.preventDefault();  // even while answers are not accepted: space must not scroll the page away
  if (accepting()) action();
});

// ---------------------------------------------------------------- the end

function questionnaireStep(done) {
  current = null;
  watchResize(null);
  document.getElementById("progress").hidden = true;
  const fields = Object.entries(info.questionnaire).map(([name, choices]) => h("label", { class: "p-field", for: `q-${name}` },
    h("span", { text: QUESTION_LABELS[name] || name }),
    h("select", { id: `q-${name}`, name },
      h("option", { value: "", text: "—" }),
      ...Object.entries(choices).map(([value, text]) => h("option", { value, text })))));
  const comment = h("textarea", { id: "q-comment", name: "comment", maxlength: "2000", rows: "3" });
  const form = h("form", { class: "p-form", id: "questionnaire-form" }, ...fields,
    h("label", { class: "p-field wide", for: "q-comment" }, h("span", { text: "Anything you want to tell us (optional)" }), comment));
  const send = async (answers, button) => {
    button.disabled = true;
    const { status, data } = await reliably("/api/participate/questionnaire/", { method: "POST", body: answers });
    if (status === 201 || status === 200 || status === 409) return completion(done);
    toast(data?.detail || "Those answers were not accepted.", "error");
    button.disabled = false;
  };
  const submit = h("button", { class: "button", id: "questionnaire-submit", type: "submit", text: "Submit" });
  const skip = h("button", { class: "button ghost", id: "questionnaire-skip", type: "button", text: "Skip",
    onclick: () => send({}, skip) });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const answers = {};
    for (const el of form.querySelectorAll("select, textarea")) if (el.value.trim()) answers[el.name] = el.value;
    send(answers, submit);
  });
  form.append(h("div", { class: "p-actions wide" }, skip, submit));
  show(h("section", { class: "p-card", id: "questionnaire" },
    h("p", { class: "eyebrow", text: "Almost done" }),
    h("h1", { text: "A few questions about you" }),
    h("p", { class: "p-text", text: "Every question is optional. The answers help us describe who took part; they are stored with your answers, not with your name." }),
    form), form.querySelector("select"));
}

function completion(done) {
  current = null;
  watchResize(null);
  document.getElementById("progress").hidden = true;
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  const code = h("code", { class: "p-code", id: "completion-code", text: done.completion_code });
  const copy = h("button", { class: "button ghost small", id: "copy-code", text: "Copy", onclick: async () => {
    try { await navigator.clipboard.writeText(done.completion_code); toast("Copied."); } catch { toast("Select the code and copy it."); }
  } });
  const back = done.redirect_url
    ? h("p", {}, h("a", { class: "button", id: "prolific-return", href: done.redirect_url, text: "Return to Prolific" }))
    : null;
  show(h("section", { class: "p-card", id: "completion" },
    h("p", { class: "eyebrow", text: "Thank you" }),
    h("h1", { text: "You have finished the study" }),
    h("p", { class: "p-text", text: "Your completion code:" }),
    h("div", { class: "p-code-row" }, code, copy),
    back || h("p", { class: "muted", text: "Paste this code into the platform that sent you here. You may close this tab." })),
  back ? back.querySelector("a") : copy);
}

async function start() {
  const r = await reliably(`/api/participate/${publicId}/`);
  if (r.status !== 200) {
    const heading = h("h1", { text: "Study not found" });
    show(h("section", { class: "p-card", id: "not-found" }, heading, h("p", { class: "muted", text: "Check the link you were given." })), heading);
    return;
  }
  info = r.data;
  if (token) return nextTrial();
  if (!info.open) return notTakingPart(info.not_open_message);
  welcomeStep();
}

start();
