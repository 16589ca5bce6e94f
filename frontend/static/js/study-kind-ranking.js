// A study kind's part of the participant page: ranking of K results (studies/kinds.py:
// Ranking.page_module). The interface is described in study-kind-pairwise.js.

export const heading = "Rank the retouched portraits";

export function keyHints(info, h) {
  return h("p", { class: "p-keys" }, "Click the results from best to worst (or press ", h("kbd", { text: "1" }), "…",
    h("kbd", { text: String(info.rank_k) }), "), drag to reorder, then ", h("kbd", { text: "Enter" }), ".");
}

export function trialView(trial, { h, answer, accepting, imageBox, zooming }) {
  const n = trial.candidates.length;
  let order = [];
  const images = [];
  const cards = trial.candidates.map((url, i) => {
    const { box, img } = imageBox(url, `Result ${i + 1}`);
    images.push(img);
    return h("button", { class: "p-cand", id: `cand-${i}`, "data-index": i, "data-answer": true, disabled: true, "aria-pressed": "false",
      onclick: (e) => { if (!(zooming() && e.target.closest(".p-img-box"))) toggle(i); } },
    box, h("span", { class: "p-cand-label" }, h("kbd", { text: String(i + 1) }), ` Result ${i + 1}`), h("span", { class: "p-rank" }));
  });
  const list = h("ol", { class: "p-order", id: "order", "aria-label": "Your ranking, best first" });
  const submitButton = h("button", { class: "button", id: "submit-rank", text: "Submit ranking", disabled: true,
    onclick: () => submit() });

  function draw() {
    for (const card of cards) {
      const at = order.indexOf(Number(card.dataset.index));
      card.classList.toggle("ranked", at >= 0);
      card.setAttribute("aria-pressed", String(at >= 0));
      card.querySelector(".p-rank").textContent = at >= 0 ? String(at + 1) : "";
    }
    list.replaceChildren(...order.map((i, pos) => {
      const li = h("li", { draggable: "true", "data-index": i, text: `#${pos + 1}: result ${i + 1}` });
      li.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", String(pos)));
      li.addEventListener("dragover", (e) => e.preventDefault());
      li.addEventListener("drop", (e) => {
        e.preventDefault();
        const [moved] = order.splice(Number(e.dataTransfer.getData("text/plain")), 1);
        order.splice(pos, 0, moved);
        draw();
      });
      return li;
    }));
    submitButton.disabled = order.length !== n;
    if (order.length === n && accepting()) submitButton.focus({ preventScroll: true });  // the next control
  }
  function toggle(i) {
    if (!accepting()) return;
    const at = order.indexOf(i);
    if (at >= 0) order.splice(at, 1); else order.push(i);
    draw();
  }
  function submit() {
    if (order.length === n) answer({ order: [...order] });
  }
  const key = (e) => {
    if (e.shiftKey || e.ctrlKey || e.metaKey || e.altKey) return null;
    const k = Number(e.key);
    if (k >= 1 && k <= n) return () => toggle(k - 1);
    return e.key === "Enter" ? submit : null;
  };
  const stage = h("div", { class: "p-rank-stage" }, h("div", { class: "p-cands", id: "candidates", style: null }, ...cards),
    h("div", { class: "p-rank-bar" }, list,
      h("button", { class: "button ghost small", id: "reset-rank", text: "Reset", onclick: () => { order = []; draw(); } }), submitButton));
  stage.style.setProperty("--cands", String(n));
  return { stage, foot: null, images, key };
}
