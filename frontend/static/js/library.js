import { api, el, toast, upload } from "./api.js";
import { tooLarge } from "./upload-limit.js";

const grid = document.getElementById("photo-grid");
const empty = document.getElementById("empty-library");

function card(photo) {
  return el("a", { class: "photo-card", href: `/photos/${photo.id}/`, "data-photo-id": photo.id },
    el("img", { src: photo.urls.display, alt: photo.original_name || `Photo ${photo.id}`, loading: "lazy" }),
    el("div", { class: "meta" },
      el("span", { class: "name", text: photo.original_name || `Photo ${photo.id}` }),
      el("span", { class: "muted", text: `${photo.width}×${photo.height}` })));
}

async function load() {
  const page = await api("/api/photos/");
  grid.replaceChildren(...page.results.map(card));
  empty.hidden = page.count > 0;
}

async function send(file) {
  const row = el("li", {}, el("span", { text: file.name }),
    el("div", { class: "progress" }, el("div", { class: "bar" })), el("span", { class: "state", text: "Uploading" }));
  document.getElementById("upload-list").prepend(row);
  const bar = row.querySelector(".bar"); const state = row.querySelector(".state");
  const refusal = tooLarge(file); // refused before a byte is sent; the server checks again
  if (refusal) { row.classList.add("error"); state.textContent = refusal; toast(`${file.name}: ${refusal}`, "error"); return; }
  const form = new FormData(); form.append("file", file);
  try {
    const photo = await upload("/api/photos/", form, (f) => {
      bar.style.width = `${Math.round(f * 100)}%`;
      if (f >= 1) state.textContent = "Processing";
    });
    state.textContent = "Done";
    grid.prepend(card(photo)); empty.hidden = true;
    setTimeout(() => row.remove(), 2500);
  } catch (error) {
    row.classList.add("error"); state.textContent = error.message;
    toast(`${file.name}: ${error.message}`, "error");
  }
}

const zone = document.getElementById("dropzone");
if (zone) {
  const input = document.getElementById("file-input");
  input.addEventListener("change", () => { [...input.files].forEach(send); input.value = ""; });
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
  for (const type of ["dragenter", "dragover"]) zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("over"); });
  for (const type of ["dragleave", "drop"]) zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.remove("over"); });
  zone.addEventListener("drop", (e) => [...e.dataTransfer.files].forEach(send));
}

load().catch((error) => toast(error.message, "error"));
