// Bulk enroll: a folder (folder names become user_id) or a zip, dropped or chosen; the
// browser streams the files from disk in batches; each batch job's progress drives one
// bar; then the per-item report, downloadable as CSV.
import { ApiFailure, call, failureOf, projectPath, session, waitForJob } from "../api.js";
import { csvLine, download, faceSetSelect, field, guarded, h, page, showMessage } from "../ui.js";

const FILES_PER_BATCH = 200;
const IMAGE_NAME = /\.(jpe?g|png|bmp)$/i;

export async function render() {
  const sets = (await call("GET", "/face-sets")).face_sets_info || [];
  if (!sets.length) {
    page("Bulk enroll", h("p", {}, "Create a face set first: ", h("a", { href: "#/sets" }, "Face sets"), "."));
    return;
  }
  const faceSet = faceSetSelect(sets, sessionStorage.getItem("facefleet.console.set"));
  const folder = h("input", { type: "file", name: "folder", webkitdirectory: true, multiple: true });
  const archive = h("input", { type: "file", name: "archive", accept: ".zip,application/zip" });
  const duplicates = h(
    "select",
    { name: "on_duplicate" },
    h("option", { value: "allow" }, "Add anyway"),
    h("option", { value: "flag" }, "Add and flag as duplicate"),
    h("option", { value: "reject" }, "Reject duplicates"),
  );
  const qualityGate = h("input", { type: "checkbox", name: "quality_gate" });
  const userIdFrom = h(
    "select",
    { name: "user_id_from" },
    h("option", { value: "folder" }, "Folder name"),
    h("option", { value: "filename" }, "File name"),
    h("option", { value: "none" }, "None"),
  );
  const drop = h("div", { class: "drop", tabindex: 0, role: "button", "aria-label": "Drop a folder or a zip here, or press Enter to choose a folder" }, "Drop a folder or a zip here");
  const chosen = h("p", { class: "chosen", "aria-live": "polite" }, "Nothing chosen yet.");
  const start = h("button", { type: "submit" }, "Enroll");
  const progress = h("progress", { max: 100, value: 0, "aria-label": "Enrollment progress" });
  const progressText = h("p", { class: "progress-text", "aria-live": "polite" });
  const report = h("section", { "aria-label": "Report" });
  let selection = { files: [], zip: null };

  const choose = (files, zip = null) => {
    selection = { files: files.filter((entry) => IMAGE_NAME.test(entry.path)), zip };
    chosen.textContent = zip ? `Zip: ${zip.name} (${(zip.size / 1e6).toFixed(1)} MB)` : `${selection.files.length} images in ${new Set(selection.files.map((e) => e.path.split("/").slice(-2)[0])).size} folders`;
  };
  folder.addEventListener("change", () => choose([...folder.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }))));
  archive.addEventListener("change", () => archive.files[0] && choose([], archive.files[0]));
  drop.addEventListener("keydown", (event) => (event.key === "Enter" || event.key === " ") && (event.preventDefault(), folder.click()));
  drop.addEventListener("dragover", (event) => (event.preventDefault(), drop.classList.add("over")));
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    guarded(async () => {
      const items = [...event.dataTransfer.items].map((item) => item.webkitGetAsEntry()).filter(Boolean);
      if (items.length === 1 && items[0].isFile && /\.zip$/i.test(items[0].name)) {
        return choose([], event.dataTransfer.files[0]);
      }
      choose((await Promise.all(items.map((entry) => walk(entry, "")))).flat());
    });
  });

  const form = h(
    "form",
    { class: "card" },
    field("Face set", faceSet),
    drop,
    h("div", { class: "inline" }, field("Choose a folder", folder), field("…or a zip", archive)),
    chosen,
    h("div", { class: "inline" }, field("Duplicates", duplicates), field("user_id from", userIdFrom)),
    h("div", { class: "check" }, qualityGate, h("label", { for: "quality-gate" }, "Quality gate: reject blurred, dark or tiny faces")),
    start,
  );
  qualityGate.id = "quality-gate";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      if (!selection.files.length && !selection.zip) {
        throw new ApiFailure("Choose a folder of images or a zip first.", 0, "");
      }
      sessionStorage.setItem("facefleet.console.set", faceSet.value);
      const options = { on_duplicate: duplicates.value, quality_gate: qualityGate.checked ? "true" : "false", user_id_from: userIdFrom.value, select: "largest" };
      const items = await enroll(faceSet.value, selection, options, (done, total, phase) => {
        progress.max = Math.max(total, 1);
        progress.value = done;
        progressText.textContent = `${phase}: ${done} of ${total} (${total ? Math.floor((100 * done) / total) : 0}%)`;
      });
      showReport(report, items);
    }, start);
  });
  page("Bulk enroll", form, h("section", { class: "card", "aria-label": "Progress" }, progress, progressText), report);
}

async function walk(entry, prefix) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, path: prefix + entry.name }];
  }
  const reader = entry.createReader();
  const children = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) {
      break;
    }
    children.push(...batch);
  }
  return (await Promise.all(children.map((child) => walk(child, `${prefix}${entry.name}/`)))).flat();
}

function userIdOf(path, from) {
  const parts = path.split("/");
  if (from === "folder") {
    return parts.length > 1 ? parts[parts.length - 2] : undefined;
  }
  if (from === "filename") {
    return parts[parts.length - 1].replace(/\.[^.]+$/, "");
  }
  return undefined;
}

// One batch job per FILES_PER_BATCH files (or one for the zip); returns every report item.
async function enroll(faceSet, selection, options, onProgress) {
  const batches = [];
  if (selection.zip) {
    batches.push({ parts: [["archive", selection.zip, selection.zip.name]], count: 0 });
  } else {
    for (let start = 0; start < selection.files.length; start += FILES_PER_BATCH) {
      const slice = selection.files.slice(start, start + FILES_PER_BATCH);
      // The folder's name (not the whole path) names the person, as the CLI does.
      const sources = slice.map((entry) => entry.path.split("/").slice(-2).join("/"));
      const items = slice.map((entry, index) => ({ source: sources[index], user_id: userIdOf(entry.path, options.user_id_from) })).filter((item) => item.user_id);
      batches.push({ parts: slice.map((entry, index) => ["image_file", entry.file, sources[index]]), items, count: slice.length });
    }
  }
  let total = batches.reduce((sum, batch) => sum + batch.count, 0);
  let finished = 0;
  const report = [];
  for (const batch of batches) {
    const form = new FormData();
    for (const [name, value] of Object.entries(options)) {
      form.append(name, value);
    }
    if (batch.items?.length) {
      form.append("items", JSON.stringify(batch.items));
    }
    for (const [name, file, filename] of batch.parts) {
      form.append(name, file, filename);
    }
    const accepted = await upload(`/face-sets/${encodeURIComponent(faceSet)}/faces/batch`, form, (sent, size) =>
      onProgress(finished, total, `Uploading ${Math.floor((100 * sent) / Math.max(size, 1))}%`),
    );
    const done = await waitForJob(accepted.job_id, (view) => {
      if (view.progress) {
        if (!batch.count) {
          total += view.progress.total;
          batch.count = view.progress.total;
        }
        onProgress(finished + view.progress.done, total, "Enrolling");
      }
    });
    finished += batch.count || done.result.items.length;
    report.push(...done.result.items);
    onProgress(finished, Math.max(total, finished), "Enrolled");
  }
  return report;
}

// XMLHttpRequest, not fetch: only it reports upload progress. The browser reads the files
// from disk as it sends them.
function upload(path, form, onUpload) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", projectPath(path));
    request.setRequestHeader("X-Auth-Token", session().api_key || "");
    request.upload.addEventListener("progress", (event) => onUpload(event.loaded, event.total));
    request.addEventListener("load", async () => {
      const response = new Response(request.responseText, { status: request.status });
      if (request.status >= 400) {
        reject(await failureOf(response));
      } else {
        resolve(JSON.parse(request.responseText));
      }
    });
    request.addEventListener("error", () => reject(new ApiFailure("The upload could not reach the service.", 0, "")));
    request.send(form);
  });
}

function personOf(item) {
  return item.user_id || (item.faces || []).map((face) => face.user_id).find(Boolean) || "";
}

function showReport(section, items) {
  const counts = { added: 0, duplicate: 0, rejected: 0 };
  for (const item of items) {
    counts[item.status] = (counts[item.status] || 0) + 1;
  }
  const csv = [csvLine(["source", "status", "user_id", "faces", "reason", "message"])]
    .concat(items.map((item) => csvLine([item.source, item.status, personOf(item), (item.faces || []).length, item.reason, item.message])))
    .join("\n");
  const save = h("button", { type: "button" }, "Download the report (CSV)");
  save.addEventListener("click", () => download("enroll-report.csv", csv + "\n"));
  section.replaceChildren(
    h("h2", {}, "Report"),
    h("p", { class: "counts" }, `${counts.added} added · ${counts.duplicate} duplicates · ${counts.rejected} rejected`),
    save,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "report" },
        h("thead", {}, h("tr", {}, ["File", "Result", "Person", "Faces", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, items.map((item) => h("tr", { class: item.status }, h("td", {}, item.source), h("td", {}, item.status), h("td", {}, personOf(item)), h("td", { class: "num" }, (item.faces || []).length), h("td", {}, [item.reason, item.message].filter(Boolean).join(": "))))),
      ),
    ),
  );
  showMessage(`Enrollment finished: ${counts.added} added, ${counts.duplicate} duplicates, ${counts.rejected} rejected.`, "info");
}
