// Sign-in: a project's id and API key, or the operator's admin token. Both stay in this
// tab's sessionStorage (never in a URL) and are checked against the API before use.
import { call, saveSession, session } from "../api.js";
import { field, guarded, h, page, showMessage } from "../ui.js";

export function render() {
  const projectId = h("input", { name: "project_id", autocomplete: "username", required: true, value: session().project_id || "" });
  const apiKey = h("input", { name: "api_key", type: "password", autocomplete: "current-password", required: true });
  const adminToken = h("input", { name: "admin_token", type: "password", autocomplete: "off", required: true });

  const projectForm = h(
    "form",
    { class: "card", "aria-labelledby": "project-signin" },
    h("h2", { id: "project-signin" }, "Project"),
    field("Project id", projectId),
    field("API key", apiKey, "As printed by `facefleet up` or `facefleet project create`."),
    h("button", { type: "submit" }, "Sign in"),
  );
  projectForm.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const id = projectId.value.trim();
      const key = apiKey.value.trim();
      await call("GET", `/v1/${encodeURIComponent(id)}/face-sets`, { scope: "raw", token: key }).catch((error) => {
        if (error.status === 401 || error.status === 404) {
          error.message = `Sign-in failed: this project id and API key do not match. ${error.message}`;
        }
        throw error;
      });
      saveSession({ ...session(), project_id: id, api_key: key });
      location.hash = "#/sets";
    }, projectForm.querySelector("button"));
  });

  const adminForm = h(
    "form",
    { class: "card", "aria-labelledby": "admin-signin" },
    h("h2", { id: "admin-signin" }, "Operator"),
    field("Admin token", adminToken, "FACEFLEET_API__ADMIN_TOKEN: opens the fleet page and the project list."),
    h("button", { type: "submit" }, "Sign in as operator"),
  );
  adminForm.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const token = adminToken.value.trim();
      await call("GET", "/v1/admin/queues", { scope: "raw", token }).catch((error) => {
        error.message = `Operator sign-in failed. ${error.message}`;
        throw error;
      });
      saveSession({ ...session(), admin_token: token });
      location.hash = "#/projects";
    }, adminForm.querySelector("button"));
  });

  page("Sign in", h("div", { class: "columns" }, projectForm, adminForm));
  if (new URLSearchParams(location.search).has("expired")) {
    showMessage("Your session ended; sign in again.", "info");
  }
  projectId.focus();
}
