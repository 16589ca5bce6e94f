import { api, el, toast } from "./api.js";

const list = document.getElementById("study-list");

async function load() {
  const { results } = await api("/api/studies/");
  document.getElementById("no-studies").hidden = results.length > 0;
  list.replaceChildren(...results.map((s) => {
    const stats = el("div", { class: "st-stats" });
    for (const [k, v] of [["participants", s.summary.participants], ["responses", s.summary.responses], ["items", s.summary.items], ["methods", s.summary.methods]]) {
      stats.append(el("span", {}, el("strong", { text: String(v) }), ` ${k}`));
    }
    return el("a", { class: "card st-card", href: `/studies/${s.id}/` },
      el("div", { class: "st-stats" }, el("span", { class: `status-pill ${s.status}`, text: s.status }), el("span", { text: s.kind }), el("span", { text: s.schedule })),
      el("h2", { text: s.title }), stats);
  }));
}

document.getElementById("create-study").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const study = await api("/api/studies/", { method: "POST", body: Object.fromEntries(form) });
    location.href = `/studies/${study.id}/`;
  } catch (err) { toast(err.message, "error"); }
});

load().catch((err) => toast(err.message, "error"));
