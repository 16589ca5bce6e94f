// Participant flow: consent → screen check → instructions → practice → trials → completion.
// Exactly-once answers: one idempotency key per trial (kept in localStorage), a lock against double
// clicks, and retries with backoff; a reload resumes at the first unanswered trial. Joining is
// exactly-once too: the button is disabled while the join is pending, and a key per tab (client_key)
// makes a repeated join resume the participant the first one made. A closed or full study (409)
// shows its message instead of trials.
// An answer counts only once the trial has been seen: every image decoded and painted, then a minimum
// viewing time. Until then the answer buttons are disabled and keys are ignored; #trial gets
// data-ready when answers are accepted.
// What differs between study kinds (the trial's layout, its keys, the instructions' title) is the kind's
// module, named by the page (data-kind-module; studies/kinds.py), e.g. study-kind-pairwise.js.

const app = document.getElementById("app");
const publicId = app.dataset.study;
const store = `plab.study.${publicId}`;
const PLATFORM_PARAMS = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "assignmentId", "workerId", "hitId", "turkSubmitTo"];
const MIN_VIEW_MS = 400;  // used when neither the trial nor the study says how long a trial must be seen

let info = null;
let token = localStorage.getItem(`${store}.token`);
let current = null;    // the trial on screen
let shownAt = 0;       // when its images were all visible
let ready = false;     // its images were shown for the minimum viewing time: answers are accepted
let busy = false;      // an answer is in flight
let view = null;       // the kind module's view of the current trial: { stage, foot, images, key }
let sawRegular = false;
const kind = import(app.dataset.kindModule);

const h = (tag, attrs = {}, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) n.setAttribute(k, v === true ? "" : v);
  }
  n.append(...kids.filter((k) => k !== null && k !== undefined));
  return n;
};

function toast(message, kind = "info") {
  const el = h("div", { class: `toast ${kind}`, text: message });
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

function show(...nodes) {
  app.replaceChildren(...nodes);
  window.scrollTo(0, 0);
}

function urlParams() {
  const out = {};
  for (const [k, v] of new URLSearchParams(location.search)) out[k] = v;
  return out;
}

// ---------------------------------------------------------------- steps

function consentStep() {
  const box = h("input", { type: "checkbox", id: "consent-box" });
  const go = h("button", { class: "button", id: "consent-continue", disabled: true, text: "Continue",
    onclick: screenStep });
  box.addEventListener("change", () => { go.disabled = !box.checked; });
  const params = urlParams();
  const platform = PLATFORM_PARAMS.filter((p) => params[p]);
  show(h("section", { class: "p-card", id: "consent" },
    h("p", { class: "eyebrow", text: "Before you begin" }),
    h("h1", { text: info.title }),
    h("div", { class: "p-text", text: info.consent_text }),
    platform.length ? h("p", { class: "muted small", text: `Your ${platform.includes("PROLIFIC_PID") ? "Prolific" : "MTurk"} ID is recorded so that you can be paid.` }) : null,
    h("label", { class: "p-check" }, box, h("span", { text: "I have read the above and agree to take part." })),
    h("div", { class: "p-actions" }, go)));
}

function screenStep() {
  const status = h("p", { class: "p-screen-status", id: "screen-status" });
  const go = h("button", { class: "button", id: "screen-continue", text: "Continue", onclick: joinAndInstruct });
  const check = () => {
    const ok = innerWidth >= info.min_width && innerHeight >= info.min_height;
    status.className = `p-screen-status ${ok ? "ok" : "bad"}`;
    status.textContent = ok
      ? `Your window is ${innerWidth} × ${innerHeight} pixels — large enough.`
      : `Your window is ${innerWidth} × ${innerHeight} pixels; please enlarge it to at least ${info.min_width} × ${info.min_height} (maximise the window or use a computer rather than a phone).`;
    go.disabled = !ok;
  };
  addEventListener("resize", check);
  check();
  show(h("section", { class: "p-card", id: "screen-check" },
    h("p", { class: "eyebrow", text: "Screen check" }),
    h("h1", { text: "Make the window large" }),
    h("p", { class: "p-text", text: "You will compare details in photographs, so the images must be shown large. Use a laptop or desktop screen, at normal brightness, and avoid reflections." }),
    status, h("div", { class: "p-actions" }, go)));
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
    if (button) { button.disabled = false; button.textContent = "Continue"; }
    return;
  }
  token = data.participant_token;
  localStorage.setItem(`${store}.token`, token);
  instructionsStep();
}

function notTakingPart(detail) {
  current = null;
  document.getElementById("progress").hidden = true;
  show(h("section", { class: "p-card", id: "closed" }, h("h1", { text: info.title }),
    h("p", { class: "p-text", text: detail || "This study is not accepting participants at the moment. Thank you for your interest." })));
}

async function instructionsStep() {
  const { heading, keyHints } = await kind;
  show(h("section", { class: "p-card", id: "instructions" },
    h("p", { class: "eyebrow", text: "Instructions" }),
    h("h1", { text: heading }),
    h("div", { class: "p-text", text: info.instructions }),
    keyHints(info, h),
    info.practice_trials ? h("p", { class: "muted", text: `The first ${info.practice_trials} trials are practice.` }) : null,
    h("div", { class: "p-actions" }, h("button", { class: "button", id: "start", text: info.practice_trials ? "Start practice" : "Start", onclick: nextTrial }))));
}

// ---------------------------------------------------------------- trials

async function nextTrial() {
  const { status, data } = await reliably("/api/participate/next/");
  if (status === 401) { localStorage.removeItem(`${store}.token`); token = null; return start(); }
  if (status === 409) return notTakingPart(data?.detail);  // the study closed
  if (data.done) return completion(data);
  if (!data.practice && !sawRegular) {
    sawRegular = true;
    if (current?.practice) return practiceDone(data);
  }
  renderTrial(data, await kind);
}

function practiceDone(trial) {
  show(h("section", { class: "p-card", id: "practice-done" },
    h("p", { class: "eyebrow", text: "Practice complete" }),
    h("h1", { text: "Now the real trials" }),
    h("p", { class: "p-text", text: "From here on every answer counts. Take your time, but trust your first impression." }),
    h("div", { class: "p-actions" }, h("button", { class: "button", id: "begin", text: "Begin", onclick: async () => renderTrial(trial, await kind) }))));
}

function preload(urls) {
  for (const url of urls || []) { const img = new Image(); img.decoding = "async"; img.src = url; }
}

function progress(p) {
  const box = document.getElementById("progress");
  box.hidden = false;
  document.getElementById("progress-bar").style.width = `${(100 * p.done) / p.total}%`;
  document.getElementById("progress-text").textContent = `${p.done} / ${p.total}`;
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
const accepting = () => Boolean(current) && ready && !busy;

function setReady(on) {
  ready = on;
  const box = document.getElementById("trial");
  if (!box) return;
  box.toggleAttribute("data-ready", on);
  box.querySelectorAll("[data-answer]").forEach((b) => { b.disabled = !on; });
}

async function armTrial(trial, imgs) {
  const shown = await whenShown(imgs);
  if (current !== trial) return;
  if (!shown) { setStatus("An image did not load. Reload the page to try again."); return; }
  shownAt = performance.now();
  setTimeout(() => { if (current === trial) setReady(true); }, minViewMs(trial));
}

function renderTrial(trial, { trialView }) {
  current = trial;
  busy = false;
  ready = false;
  shownAt = 0;
  progress(trial.progress);
  const input = h("img", { class: "p-input", src: trial.input_url, alt: "Original photograph", draggable: "false" });
  view = trialView(trial, { h, answer, accepting });
  show(h("section", { class: `p-trial ${trial.practice ? "practice" : ""}`, id: "trial", "data-trial": trial.trial_id },
    h("div", { class: "p-trial-head" },
      trial.practice ? h("span", { class: "badge p-practice", text: "Practice" }) : null,
      h("div", { class: "p-input-wrap" }, input, h("span", { class: "muted small", text: "Original" }))),
    view.stage,
    h("div", { class: "p-trial-foot" }, view.foot, h("span", { class: "muted small", id: "net-status" }))));
  armTrial(trial, [input, ...view.images]);
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
    return nextTrial();
  }
  toast(data?.detail || "That answer was not accepted.", "error");
  busy = false;
  setReady(true);
  document.getElementById("trial")?.classList.remove("sending");
  picked?.classList.remove("picked");
}

addEventListener("keydown", (e) => {
  if (!current || !view || !document.getElementById("trial")) return;
  const action = view.key(e);  // the action the key stands for on this trial, or null
  if (!action) return;
  e.preventDefault();  // even while answers are not accepted: space must not scroll the page away
  if (accepting()) action();
});

function completion(done) {
  current = null;
  document.getElementById("progress").hidden = true;
  const code = h("code", { class: "p-code", id: "completion-code", text: done.completion_code });
  const copy = h("button", { class: "button ghost small", text: "Copy", onclick: async () => {
    try { await navigator.clipboard.writeText(done.completion_code); toast("Copied."); } catch { toast("Select the code and copy it."); }
  } });
  show(h("section", { class: "p-card", id: "completion" },
    h("p", { class: "eyebrow", text: "Thank you" }),
    h("h1", { text: "You have finished the study" }),
    h("p", { class: "p-text", text: "Your completion code:" }),
    h("div", { class: "p-code-row" }, code, copy),
    done.redirect_url
      ? h("p", {}, h("a", { class: "button", id: "prolific-return", href: done.redirect_url, text: "Return to Prolific" }))
      : h("p", { class: "muted", text: "Paste this code into the platform that sent you here. You may close this tab." })));
}

async function start() {
  const r = await reliably(`/api/participate/${publicId}/`);
  if (r.status !== 200) {
    show(h("section", { class: "p-card" }, h("h1", { text: "Study not found" }), h("p", { class: "muted", text: "Check the link you were given." })));
    return;
  }
  info = r.data;
  if (token) return nextTrial();
  if (!info.open) return notTakingPart();
  consentStep();
}

start();
