// The console's router: #/page/args... → a page module's render(args).
import { clearSession, forgetImages, session } from "./api.js";
import { clearMessage, showMessage } from "./ui.js";
import * as enroll from "./pages/enroll.js";
import * as faces from "./pages/faces.js";
import * as fleet from "./pages/fleet.js";
import * as jobs from "./pages/jobs.js";
import * as projects from "./pages/projects.js";
import * as search from "./pages/search.js";
import * as sets from "./pages/sets.js";
import * as signin from "./pages/signin.js";

const PAGES = { sets, faces, enroll, search, jobs, fleet, projects, signin };

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const current = session();
  const signedIn = Boolean(current.api_key);
  const admin = Boolean(current.admin_token);
  let name = parts[0] || (signedIn ? "sets" : admin ? "projects" : "signin");
  if (!signedIn && !admin) {
    name = "signin";
  } else if (!signedIn && !["fleet", "projects", "signin"].includes(name)) {
    name = "projects";
  }
  if (name === "sets" && parts.length > 1) {
    name = "faces";
  }
  const module = PAGES[name] || PAGES.signin;
  updateChrome(name, current);
  clearMessage();
  Promise.resolve(module.render(parts.slice(1))).catch((error) => showMessage(error.message || String(error)));
  // Screen readers and keyboards start at the new page, unless it focused a field itself.
  const main = document.getElementById("main");
  if (!main.contains(document.activeElement)) {
    main.focus({ preventScroll: true });
  }
}

function updateChrome(name, current) {
  const nav = document.getElementById("nav");
  const signedIn = Boolean(current.api_key);
  const admin = Boolean(current.admin_token);
  nav.hidden = !signedIn && !admin;
  for (const link of nav.querySelectorAll("a")) {
    const adminOnly = link.hasAttribute("data-admin");
    link.hidden = adminOnly ? !admin : !signedIn;
    const active = link.dataset.page === name || (name === "faces" && link.dataset.page === "sets");
    if (active) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
  const who = [];
  if (signedIn) {
    who.push(`project ${current.project_id}`);
  }
  if (admin) {
    who.push("operator");
  }
  document.getElementById("who").textContent = who.join(" · ");
  document.getElementById("sign-out").hidden = !signedIn && !admin;
}

document.getElementById("sign-out").addEventListener("click", () => {
  clearSession();
  forgetImages();
  location.hash = "#/signin";
  route();
});

window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (event) => showMessage(event.reason?.message || String(event.reason)));
route();
