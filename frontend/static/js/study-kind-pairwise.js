// A study kind's part of the participant page: pairwise A/B (studies/kinds.py: Pairwise.page_module).
// study-participate.js imports the module its page names (data-kind-module) and uses:
//   heading                  the instructions' title
//   keyHints(info, h)        the instructions' key help (info: GET /api/participate/<id>/)
//   trialView(trial, page)   → { stage, foot, images, key(event) → action or null } for one trial
//                            (trial: GET /api/participate/next/). page.h builds elements,
//                            page.accepting() says whether answers are taken now, and
//                            page.answer(fields, picked) sends {choice} or {order} once (picked: the
//                            element to mark as chosen). page.imageBox(url, alt) → {box, img}: an image
//                            that carries the synchronised zoom loupe; page.zooming() is true while the
//                            loupe is on (a click on an image then only moves the loupe). Buttons that
//                            answer carry data-answer: the page enables them once the trial has been seen.
//                            The stage fills the height it is given (the trial fits the window).
// A new kind is a class in studies/kinds.py and a module like this one.

export const heading = "Which retouched portrait is better?";

export function keyHints(info, h) {
  return h("p", { class: "p-keys" }, h("kbd", { text: "←" }), " left is better · ", h("kbd", { text: "→" }),
    " right is better", info.allow_tie ? h("span", {}, " · ", h("kbd", { text: "space" }), " no preference") : null);
}

export function trialView(trial, { h, answer, imageBox, zooming }) {
  const buttons = {};
  const images = [];
  const choose = (choice) => answer({ choice }, buttons[choice]);
  const side = (choice, url, alt, ...label) => {
    const { box, img } = imageBox(url, alt);
    images.push(img);
    buttons[choice] = h("button", { class: "p-choice", id: `choose-${choice}`, "data-answer": true, disabled: true,
      onclick: (e) => { if (!(zooming() && e.target.closest(".p-img-box"))) choose(choice); } },
    box, h("span", { class: "p-choice-label" }, ...label));
    return buttons[choice];
  };
  const stage = h("div", { class: "p-pair" },
    side("left", trial.left_url, "Left result", h("kbd", { text: "←" }), " Left is better"),
    side("right", trial.right_url, "Right result", "Right is better ", h("kbd", { text: "→" })));
  let foot = null;
  if (trial.allow_tie) {
    foot = buttons.tie = h("button", { class: "button ghost", id: "choose-tie", "data-answer": true, disabled: true,
      onclick: () => choose("tie") }, "No preference ", h("kbd", { text: "space" }));
  }
  const key = (e) => {
    if (e.shiftKey || e.ctrlKey || e.metaKey || e.altKey) return null;
    if (e.key === "ArrowLeft") return () => choose("left");
    if (e.key === "ArrowRight") return () => choose("right");
    if ((e.key === " " || e.code === "Space") && trial.allow_tie) return () => choose("tie");
    return null;
  };
  return { stage, foot, images, key };
}
