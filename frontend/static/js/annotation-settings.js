// A project's settings as the researcher types them — slots, max review rounds, hidden duplicates
// and the automatic-QA thresholds — read from a form and checked with the server's limits
// (webapp/annotation/services.py: QA_LIMITS, _check_rounds_and_duplicates), each problem shown
// under its field. Percentages on the page, fractions in the API.

const RULES = {
  max_rounds: { min: 1, max: 20, integer: true, message: "Max review rounds: a whole number from 1 to 20." },
  duplicates: { min: 0, max: 5, integer: true, message: "Hidden duplicates: a whole number from 0 to 5." },
  max_glc: { min: 0.01, max: 10000, message: "M_GLC threshold: a number above 0 (PPR10K's groups are mostly under 30)." },
  max_clipped_percent: { min: 0, max: 100, message: "Clipping limit: a percentage from 0 to 100." },
  extreme_percent: { min: 5, max: 100, message: "Extreme slider limit: a percentage from 5 to 100 of a slider's range." },
};

function mark(input, message) {
  const label = input.closest("label");
  let slot = label?.querySelector(".field-error");
  if (message) {
    input.setAttribute("aria-invalid", "true");
    if (!slot && label) { slot = document.createElement("span"); slot.className = "field-error"; slot.setAttribute("role", "alert"); label.append(slot); }
    if (slot) slot.textContent = message;
  } else {
    input.removeAttribute("aria-invalid");
    slot?.remove();
  }
}

function number(form, name, errors) {
  const input = form.elements[name];
  if (!input) return undefined;
  const rule = RULES[name];
  const text = String(input.value).trim();
  const value = Number(text);
  const bad = text === "" || !Number.isFinite(value) || value < rule.min || value > rule.max
    || (rule.integer && !Number.isInteger(value));
  mark(input, bad ? rule.message : null);
  if (bad) errors.push(rule.message);
  return value;
}

// {body, errors}: body holds what the API takes (qa as fractions); errors lists every message.
export function readSettings(form, { creating = false } = {}) {
  const errors = [];
  const body = {};
  if (form.elements.max_rounds) body.max_rounds = number(form, "max_rounds", errors);
  if (creating && form.elements.duplicates) body.duplicates = number(form, "duplicates", errors);
  if (creating && form.elements.slots) {
    const input = form.elements.slots;
    const slots = String(input.value).split(",").map((s) => s.trim()).filter(Boolean);
    const bad = !slots.length || slots.length > 8 || new Set(slots).size !== slots.length
      || slots.some((s) => !/^[A-Za-z0-9]{1,8}$/.test(s));
    const message = "Slots: 1 to 8 distinct short names of letters or digits, e.g. a, b, c.";
    mark(input, bad ? message : null);
    if (bad) errors.push(message);
    body.slots = slots;
  }
  body.qa = {
    max_glc: number(form, "max_glc", errors),
    max_clipped_fraction: number(form, "max_clipped_percent", errors) / 100,
    extreme_fraction: number(form, "extreme_percent", errors) / 100,
  };
  return { body, errors };
}

// Re-check while typing, so a fixed value clears its message before the pointer reaches Save (on
// "change" the message would vanish at the blur and move the button from under the click).
export function liveValidate(form, options) {
  form.addEventListener("input", () => { if (form.querySelector("[aria-invalid=true]")) readSettings(form, options); });
}
