// The annotation home: an expert's queue, a reviewer's work waiting for review, a researcher's
// projects (and a form to start one).
import { api, el, toast } from "./api.js";
import { STATE_LABELS } from "./annotation-common.js";
import { liveValidate, readSettings } from "./annotation-settings.js";

const root = document.getElementById("ann-index");
const role = root.dataset.role;
const queue = document.getElementById("queue");

function assignmentCard(a) {
  const href = role === "reviewer" ? `/annotation/assignments/${a.id}/review/` : `/annotation/assignments/${a.id}/`;
  return el("a", { class: "card queue-card", href, "data-id": a.id },
    el("div", { class: "meta" }, el("strong", { text: a.group_name }),
      el("span", { class: "state-pill light", "data-state": a.state, text: STATE_LABELS[a.state] })),
    el("span", { class: "muted small", text: `${a.project_title} · group ${a.group} · slot ${a.slot} · round ${a.round}` }),
    el("span", { class: "small", text: a.kind === "harmonization" ? "Harmonization ground truth" : "Retouching ground truth" }));
}

function projectCard(p) {
  return el("a", { class: "card queue-card", href: `/annotation/projects/${p.id}/`, "data-id": p.id },
    el("div", { class: "meta" }, el("strong", { text: p.title }),
      el("span", { class: "badge", text: p.dataset_version ? `dataset v${p.dataset_version}` : "in progress" })),
    el("span", { class: "muted small", text: `${p.groups.length} group(s) · slots ${p.slots.join(", ")} · ${p.kind}` }));
}

async function load() {
  const path = role === "researcher" ? "/api/annotation/projects/" : "/api/annotation/assignments/";
  const data = await api(path);
  queue.replaceChildren(...data.results.map(role === "researcher" ? projectCard : assignmentCard));
  document.getElementById("queue-empty").hidden = data.results.length > 0;
}

const projectForm = document.getElementById("project-form");
if (projectForm) liveValidate(projectForm, { creating: true });
projectForm?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const { body: settings, errors } = readSettings(e.target, { creating: true });
  const kind = form.get("kind");
  const groups = form.getAll("groups").map(Number);
  if (!groups.length && kind !== "harmonization") errors.push("Choose at least one photo group (a harmonization project may start empty and get composites later).");
  const message = document.getElementById("project-form-error");
  message.hidden = !errors.length;
  message.textContent = errors.length ? `Please fix ${errors.length === 1 ? "this" : "these"}: ${errors.join(" ")}` : "";
  if (errors.length) { e.target.querySelector("[aria-invalid=true]")?.focus(); return; }
  const body = { title: form.get("title"), kind, groups, ...settings };
  try {
    const project = await api("/api/annotation/projects/", { method: "POST", body });
    location.href = kind === "harmonization" && !groups.length ? `/annotation/projects/${project.id}/composites/` : `/annotation/projects/${project.id}/`;
  } catch (error) {
    message.hidden = false; message.textContent = error.message;
    toast(error.message, "error");
  }
});

load().catch((error) => toast(error.message, "error"));
