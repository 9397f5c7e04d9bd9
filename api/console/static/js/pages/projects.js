// Projects (operator): the project list from the admin API; opening one asks for that
// project's key, since the admin token itself grants no project data in the console.
import { call, saveSession, session } from "../api.js";
import { field, guarded, h, page } from "../ui.js";

export async function render() {
  const list = h("div", { class: "table-wrap" }, h("p", {}, "Loading…"));
  page("Projects", list);
  let projects = [];
  try {
    const answer = await call("GET", "/v1/admin/projects", { scope: "admin" });
    projects = answer.items || answer.projects || [];
  } catch (error) {
    list.replaceChildren(h("p", { class: "message error" }, `The project list is unavailable: ${error.message}`));
    return;
  }
  list.replaceChildren(
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, ["Project", "Id", "Open"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, projects.map((project) => h("tr", {}, h("td", {}, project.name || ""), h("td", {}, project.project_id || project.id), h("td", {}, openForm(project.project_id || project.id))))),
    ),
  );
}

function openForm(projectId) {
  const key = h("input", { type: "password", name: "api_key", autocomplete: "off", required: true });
  const button = h("button", { type: "submit" }, "Open");
  const form = h("form", { class: "inline" }, field(`API key of ${projectId}`, key), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      await call("GET", `/v1/${encodeURIComponent(projectId)}/face-sets`, { scope: "raw", token: key.value.trim() });
      saveSession({ ...session(), project_id: projectId, api_key: key.value.trim() });
      location.hash = "#/sets";
    }, button);
  });
  return form;
}
