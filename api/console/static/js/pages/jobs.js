// Jobs: the project's recent jobs (kind, state, duration, error), filterable and paged by
// the API's cursor; a job's own page shows its progress and result.
import { call } from "../api.js";
import { field, formatDate, h, page } from "../ui.js";

const KINDS = ["", "detect", "compare", "enroll", "enroll_batch", "search", "update_face", "delete_faces", "delete_face_set", "delete_person", "liveness"];
const STATES = ["", "pending", "running", "succeeded", "failed"];
const filters = { kind: "", status: "" };

export async function render([jobId]) {
  if (jobId) {
    return renderJob(jobId);
  }
  const kind = h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k, selected: k === filters.kind }, k || "any kind")));
  const status = h("select", { name: "status" }, STATES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any state")));
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Older jobs");
  const form = h("form", { class: "inline filters", "aria-label": "Filter jobs" }, field("Kind", kind), field("State", status), h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(filters, { kind: kind.value, status: status.value });
    render([]);
  });
  page(
    "Jobs",
    form,
    h(
      "div",
      { class: "table-wrap" },
      h("table", { class: "jobs" }, h("thead", {}, h("tr", {}, ["Job", "Kind", "State", "Created", "Duration", "Progress", "Error"].map((t) => h("th", { scope: "col" }, t)))), body),
    ),
    more,
  );
  let cursor = null;
  const load = async () => {
    const query = new URLSearchParams({ limit: 50 });
    for (const [name, value] of Object.entries(filters)) {
      if (value) {
        query.set(name, value);
      }
    }
    if (cursor) {
      query.set("cursor", cursor);
    }
    const answer = await call("GET", `/jobs?${query}`);
    body.append(...answer.jobs.map(jobRow));
    if (!body.children.length) {
      body.append(h("tr", {}, h("td", { colspan: 7 }, "No job yet.")));
    }
    cursor = answer.next_cursor || null;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load());
  await load();
}

function jobRow(job) {
  const error = job.error ? `${job.error.error_code}: ${job.error.error_msg}` : "";
  return h(
    "tr",
    { class: job.status },
    h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(job.job_id)}` }, job.job_id.slice(0, 12) + "…")),
    h("td", {}, job.kind),
    h("td", {}, job.status),
    h("td", {}, formatDate(job.created_at)),
    h("td", { class: "num" }, job.duration_seconds !== undefined ? `${job.duration_seconds.toFixed(2)} s` : ""),
    h("td", {}, job.progress ? `${job.progress.done}/${job.progress.total}` : ""),
    h("td", {}, error),
  );
}

async function renderJob(jobId) {
  const job = await call("GET", `/jobs/${encodeURIComponent(jobId)}`);
  const rows = [
    ["Job id", job.job_id],
    ["Kind", job.kind],
    ["State", job.status],
    ["Created", formatDate(job.created_at)],
    ["Updated", formatDate(job.updated_at)],
  ];
  if (job.progress) {
    rows.push(["Progress", `${job.progress.done} of ${job.progress.total}`]);
  }
  if (job.error) {
    rows.push(["Error", `${job.error.error_code}: ${job.error.error_msg}`]);
  }
  page(
    `Job ${job.job_id.slice(0, 12)}…`,
    h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")),
    h("dl", { class: "details" }, rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
    job.result !== undefined ? h("section", { "aria-label": "Result" }, h("h2", {}, "Result"), h("pre", { class: "result-json", tabindex: 0 }, JSON.stringify(job.result, null, 2))) : null,
  );
}
