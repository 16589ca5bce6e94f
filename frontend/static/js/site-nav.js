// The header on narrow screens: the links and the account (Sign out) fold behind "Menu".
const toggle = document.getElementById("nav-toggle");
const bar = toggle?.closest(".topbar");
if (toggle && bar) {
  const set = (open) => { bar.classList.toggle("menu-open", open); toggle.setAttribute("aria-expanded", String(open)); };
  toggle.addEventListener("click", () => set(!bar.classList.contains("menu-open")));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && bar.classList.contains("menu-open")) { set(false); toggle.focus(); } });
  document.addEventListener("click", (e) => { if (!bar.contains(e.target)) set(false); });
}
