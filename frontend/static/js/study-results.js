// Results dashboard: re-fetches /dashboard/ when the study's WebSocket says votes arrived, throttled
// (at most one refresh per REFRESH_MS, and while events keep arriving one at least that often: a
// debounce would never fire while votes flow faster than its quiet period). Charts are inline SVG.
import { api, el, socket, toast } from "./api.js";

const id = document.getElementById("results-script").dataset.study;
let data = null;
let view = "all";
let order = [];
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#c2603b", "#2f6f9f", "#6b8e23", "#8e44ad", "#d4a017", "#16a085", "#7f8c8d", "#c0392b"];

function s(tag, attrs = {}, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}
const fmt = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(d));
const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

function current() {
  if (!data) return null;
  return view === "all" ? data.results : data.results.subsets?.[view];
}

function kpis() {
  const r = data.results;
  const parts = data.participants;
  const included = parts.filter((p) => !p.excluded).length;
  const rates = parts.filter((p) => p.attention_rate !== null).map((p) => p.attention_rate);
  const u = r.details?.agreement?.u;
  const items = [["Participants", `${included}/${parts.length}`], ["Completed", data.summary.completed], ["Votes", data.votes],
    ["Attention pass", rates.length ? pct(rates.reduce((a, b) => a + b, 0) / rates.length) : "–"], ["Kendall's u", fmt(u, 3)]];
  document.getElementById("kpis").replaceChildren(...items.map(([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v", text: String(v), "data-kpi": k }), el("div", { class: "k", text: k }))));
}

function tabs() {
  const names = ["all", ...Object.keys(data.results.subsets || {}).sort()];
  if (!names.includes(view)) view = "all";
  document.getElementById("tabs").replaceChildren(...names.map((n) => el("button", { class: `tab ${n === view ? "active" : ""}`, role: "tab", text: n === "all" ? "All subsets" : n, "data-view": n })));
  document.querySelectorAll("#tabs .tab").forEach((b) => b.addEventListener("click", () => { view = b.dataset.view; draw(); }));
}

function perMethod(n) {
  const M = data.win_matrix[view] || data.win_matrix.all;
  const i = data.results.conditions.indexOf(n);
  let total = 0;
  for (let j = 0; j < M.length; j++) if (j !== i) total += M[i][j] + M[j][i];
  return Math.round(total);
}

function table(r) {
  const t = document.getElementById("score-table");
  if (!r?.bradley_terry) { t.replaceChildren(el("tr", {}, el("td", { class: "muted", text: "No votes yet." }))); return; }
  const ci = r.ci || {};
  const best = order.reduce((a, b) => (r.bradley_terry.score[b] > r.bradley_terry.score[a] ? b : a), order[0]);
  const cell = (v, key, n, d = 3, f = fmt) => {
    const td = el("td", { class: `num ${n === best ? "best" : ""}`, text: f(v, d) });
    if (ci[key]) td.append(el("div", { class: "ci", text: `[${f(ci[key][n][0], d)}, ${f(ci[key][n][1], d)}]` }));
    return td;
  };
  // Each rate under its own name: the win rate (comparisons won) and the share of selections (sums to 100 %).
  const head = el("tr", {}, ...[["Method"], ["Comparisons"], ["Win rate", "win_rate"], ["Share of selections", "preference_rate"],
    ["B–T score"], ["Thurstone z"], ["JOD"]].map(([h, key], i) => el("th", { class: i ? "num" : "", text: h, ...(key ? { "data-measure": key } : {}) })));
  const rate = (key, n) => { const td = cell(r[key]?.[n], key, n, 1, (x) => pct(x)); td.dataset.measure = key; return td; };
  const rows = order.map((n) => el("tr", { "data-method": n }, el("td", { text: n }), el("td", { class: "num", text: String(perMethod(n)) }),
    rate("win_rate", n), rate("preference_rate", n), cell(r.bradley_terry.score[n], "bradley_terry.score", n),
    cell(r.thurstone.z[n], "thurstone.z", n), cell(r.thurstone.jod[n], "thurstone.jod", n, 2)));
  t.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

function bars(r) {
  const box = document.getElementById("bars");
  if (!r?.bradley_terry) { box.replaceChildren(); return; }
  // As wide as the card (so labels keep their size), within 300–640 px; narrow bars tilt their labels.
  const W = Math.round(Math.max(300, Math.min(640, box.clientWidth || 520))), L = 48, T = 22;
  const tilt = (W - L - 8) / order.length < 88, B = tilt ? 78 : 40, H = 240 + B;
  const ci = r.ci?.["bradley_terry.score"];
  const vals = order.map((n) => r.bradley_terry.score[n]);
  const top = Math.max(...vals, ...(ci ? order.map((n) => ci[n][1]) : [0])) * 1.1 || 1;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, xmlns: SVG, role: "img", "aria-label": "Bradley–Terry scores with 95% intervals", "font-family": "system-ui, sans-serif" });
  svg.style.maxWidth = `${W}px`;
  svg.append(s("rect", { x: 0, y: 0, width: W, height: H, fill: "#fff" }));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg.append(s("line", { x1: L, x2: W - 8, y1: y(v), y2: y(v), stroke: "#eee" }), s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#666" }, v.toFixed(2)));
  }
  const bw = (W - L - 8) / order.length;
  order.forEach((n, i) => {
    const x = L + i * bw + bw * 0.18, w = bw * 0.64, v = r.bradley_terry.score[n];
    svg.append(s("rect", { x, y: y(v), width: w, height: y(0) - y(v), rx: 4, fill: PALETTE[i % PALETTE.length], "data-method": n }));
    if (ci) {
      const cx = x + w / 2, lo = y(ci[n][0]), hi = y(ci[n][1]);
      svg.append(s("line", { x1: cx, x2: cx, y1: lo, y2: hi, stroke: "#222", "stroke-width": 1.5 }),
        s("line", { x1: cx - 7, x2: cx + 7, y1: lo, y2: lo, stroke: "#222", "stroke-width": 1.5 }),
        s("line", { x1: cx - 7, x2: cx + 7, y1: hi, y2: hi, stroke: "#222", "stroke-width": 1.5 }));
    }
    const lx = x + w / 2, ly = H - B + 18;
    svg.append(s("text", { x: lx, y: ly, "text-anchor": tilt ? "end" : "middle", "font-size": 12, fill: "#333", ...(tilt ? { transform: `rotate(-35 ${lx} ${ly - 4})` } : {}) }, n));
    svg.append(s("text", { x: lx, y: Math.min(y(v), ci ? y(ci[n][1]) : y(v)) - 6, "text-anchor": "middle", "font-size": 11, fill: "#555" }, v.toFixed(3)));
  });
  box.replaceChildren(svg);
}

function heat(matrix, names) {
  const box = document.getElementById("heat");
  if (!matrix || !names.length) { box.replaceChildren(); return; }
  const m = names.length, cell = 48, L = 96, T = 76;
  const W = L + m * cell + 40, H = T + m * cell + 10;  // right margin: the last rotated column label
  const idx = Object.fromEntries((data.results.conditions || []).map((n, i) => [n, i]));
  // Drawn at its own size (never scaled up, so its 12 px labels stay 12 px); narrower screens scale it down.
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, xmlns: SVG, role: "img", "aria-label": "Win matrix", "font-family": "system-ui, sans-serif" });
  svg.style.maxWidth = `${W}px`;
  svg.append(s("rect", { x: 0, y: 0, width: W, height: H, fill: "#fff" }));
  names.forEach((a, i) => {
    svg.append(s("text", { x: L - 8, y: T + i * cell + cell / 2 + 4, "text-anchor": "end", "font-size": 12, fill: "#333" }, a));
    svg.append(s("text", { x: L + i * cell + cell / 2, y: T - 8, "text-anchor": "start", "font-size": 12, fill: "#333", transform: `rotate(-40 ${L + i * cell + cell / 2} ${T - 8})` }, names[i]));
    names.forEach((b, j) => {
      const x = L + j * cell, y = T + i * cell;
      if (i === j) { svg.append(s("rect", { x, y, width: cell - 2, height: cell - 2, fill: "#f3f1ee" })); return; }
      const w = matrix[idx[a]][idx[b]], l = matrix[idx[b]][idx[a]];
      const p = w + l ? w / (w + l) : 0.5;
      const col = p >= 0.5 ? `rgba(194,96,59,${(p - 0.5) * 1.9})` : `rgba(47,111,159,${(0.5 - p) * 1.9})`;
      svg.append(s("rect", { x, y, width: cell - 2, height: cell - 2, fill: "#fafafa" }), s("rect", { x, y, width: cell - 2, height: cell - 2, fill: col }));
      svg.append(s("text", { x: x + cell / 2 - 1, y: y + cell / 2 + 4, "text-anchor": "middle", "font-size": 12, fill: Math.abs(p - 0.5) > 0.3 ? "#fff" : "#222" }, w % 1 ? w.toFixed(1) : String(w)));
    });
  });
  box.replaceChildren(svg);
}

function significance(r) {
  const t = document.getElementById("sig-table");
  const sig = r?.details?.significance;
  document.getElementById("sig-test").textContent = sig ? `${sig.test}; Holm-corrected p-values. Row vs column.` : "";
  if (!sig) { t.replaceChildren(); return; }
  const head = el("tr", {}, el("th"), ...order.map((n) => el("th", { class: "num", text: n })));
  const rows = order.map((a) => el("tr", {}, el("th", { text: a }), ...order.map((b) => {
    if (a === b) return el("td", { class: "num muted", text: "·" });
    const p = sig.p_holm[a][b];
    const stars = p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : "";
    const td = el("td", { class: "num", text: `${p < 0.001 ? "<.001" : p.toFixed(3)}${stars}` });
    td.style.background = p < 0.05 ? "#e8f5ec" : "";
    return td;
  })));
  t.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

// Quality flags (studies.selectors.participant_quality); with the study's "exclude flagged" setting
// they exclude automatically, like a failed attention check.
function flagText(flag, p) {
  if (flag === "speeder") return `speeder (${(p.median_gap_ms / 1000).toFixed(1)} s between answers) `;
  if (flag === "straight_lining") return "same answer throughout ";
  if (flag === "duplicate") return `same platform ID as ${p.duplicate_of} `;
  return `${flag} `;
}

function participants() {
  const r = data.results.details || {};
  const triads = r.consistency || {}, outl = r.outliers?.participants || {};
  const head = el("tr", {}, ...["Participant", "Platform ID", "Answered", "Attention", "Circular triads", "Outlier (dist_L)", "Median time", "Flags", "Screen", "Include"].map((h) => el("th", { text: h })));
  const threshold = data.study.attention_threshold;
  const rows = data.participants.map((p) => {
    const select = el("select", { "data-participant": p.id, "aria-label": `Include ${p.label}` },
      el("option", { value: "auto", text: `Automatic (${p.auto_excluded ? "excluded" : "included"})` }),
      el("option", { value: "include", text: "Include" }), el("option", { value: "exclude", text: "Exclude" }));
    select.value = p.manual === null ? "auto" : p.manual ? "exclude" : "include";
    select.addEventListener("change", async () => {
      const excluded = select.value === "auto" ? null : select.value === "exclude";
      try { await api(`/api/studies/${id}/participants/${p.id}/`, { method: "PATCH", body: { excluded } }); refresh({ now: true }); }
      catch (err) { toast(err.message, "error"); }
    });
    const o = outl[p.label];
    const tri = triads[p.label];
    const ext = p.params.PROLIFIC_PID || p.params.workerId || "–";
    return el("tr", { class: p.excluded ? "excluded" : "", "data-label": p.label },
      el("td", {}, p.label, " ", p.completed ? el("span", { class: "badge", text: "done" }) : ""),
      el("td", { class: "small", text: ext }), el("td", { class: "num", text: String(p.answered) }),
      el("td", { class: "num" }, `${p.attention_passed}/${p.attention_total}`, p.attention_rate !== null && p.attention_rate < threshold ? el("span", { class: "flag", text: " below threshold" }) : ""),
      el("td", { class: "num", text: tri ? String(tri.circular_triads) : "–" }),
      el("td", { class: "num" }, o ? fmt(o.dist_L, 2) : "–", o?.outlier ? el("span", { class: "flag", text: " outlier" }) : ""),
      el("td", { class: "num", text: p.median_ms === null ? "–" : `${(p.median_ms / 1000).toFixed(1)} s` }),
      el("td", { class: "small", "data-flags": p.flags.join(" ") }, ...p.flags.map((f) => el("span", { class: "flag", text: flagText(f, p) }))),
      el("td", { class: "small", text: p.screen?.width ? `${p.screen.width}×${p.screen.height} @${p.screen.dpr}x` : "–" }),
      el("td", {}, select));
  });
  document.getElementById("participants").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  const excluded = data.participants.filter((p) => p.excluded).length;
  document.getElementById("quality-note").textContent = `${excluded} excluded · excluding a participant recomputes every statistic`;
}

function draw() {
  if (!data) return;
  const r = current();
  const conds = data.results.conditions || [];
  order = [...conds].sort((a, b) => (data.methods.indexOf(a) - data.methods.indexOf(b)));
  kpis(); tabs(); table(r); bars(r);
  heat(data.win_matrix[view] || data.win_matrix.all, order); significance(r); participants();
  const warns = (r?.warnings || []).filter((w) => !w.startsWith("no votes"));
  document.getElementById("warnings").replaceChildren(...warns.map((w) => el("p", { class: "warn", text: w })));
  document.body.dataset.votes = String(data.votes);
  document.body.dataset.participants = String(data.participants.length);
}

// Throttle: a change asks for a refresh; one runs at once when the last started REFRESH_MS ago or
// more, else when it will have; one fetch at a time, and changes during a fetch ask for one more.
const REFRESH_MS = 1000;
let timer = null, inflight = false, pending = false, lastStart = -Infinity;
async function load() {
  timer = null;
  if (inflight) { pending = true; return; }
  pending = false; inflight = true; lastStart = performance.now();
  try {
    const [dash, detail] = await Promise.all([api(`/api/studies/${id}/dashboard/`), data ? Promise.resolve(null) : api(`/api/studies/${id}/`)]);
    if (detail) dash.methods = detail.methods.map((m) => m.name); else dash.methods = data.methods;
    data = dash; draw();
  } catch (err) { toast(err.message, "error"); }
  inflight = false;
  if (pending) refresh();
}
function refresh({ now = false } = {}) {
  pending = true;
  if (inflight) return;
  if (now) { clearTimeout(timer); load(); return; }
  if (timer) return;
  timer = setTimeout(load, Math.max(0, lastStart + REFRESH_MS - performance.now()));
}

function exportChart(which, format) {
  const svg = document.querySelector(`#${which} svg`);
  if (!svg) return;
  const text = new XMLSerializer().serializeToString(svg);
  const name = `study-${id}-${which}-${view}`;
  const save = (href, ext) => { const a = el("a", { href, download: `${name}.${ext}` }); document.body.append(a); a.click(); a.remove(); };
  const blob = new Blob([text], { type: "image/svg+xml" });
  const url = URL.createObjectURL(blob);
  if (format === "svg") { save(url, "svg"); return; }
  const img = new Image();
  img.onload = () => {
    const vb = svg.viewBox.baseVal, scale = 2;
    const canvas = el("canvas", { width: vb.width * scale, height: vb.height * scale });
    canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((png) => save(URL.createObjectURL(png), "png"));
  };
  img.src = url;
}
let resizeTimer = null;  // the bar chart follows its card's width
addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => data && bars(current()), 150); });
document.querySelectorAll("[data-export]").forEach((b) => b.addEventListener("click", () => exportChart(b.dataset.export, b.dataset.format)));

socket(`/ws/studies/${id}/`, (msg) => {
  if (msg.type === "study") refresh();
}, { onOpen: () => {
  document.getElementById("live-dot").classList.add("on");
  document.getElementById("live-text").textContent = "live: updates as votes arrive";
  refresh({ now: true });
} });
load();
