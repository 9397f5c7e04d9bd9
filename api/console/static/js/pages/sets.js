// Face sets: the list with counts and capacity, create (with an external-field schema),
// and delete after a confirmation that names what is erased.
import { call, callAndWait } from "../api.js";
import { confirmDialog, field, formatDate, guarded, h, page, showMessage } from "../ui.js";

const FIELD_TYPES = ["string", "integer", "long", "float", "double", "boolean"];

export async function render() {
  const list = h("div", { class: "table-wrap" }, h("p", {}, "Loading…"));
  page("Face sets", createForm(), h("h2", {}, "Your face sets"), list);
  await refresh(list);
}

async function refresh(list) {
  const body = await call("GET", "/face-sets");
  const sets = body.face_sets_info || [];
  if (!sets.length) {
    list.replaceChildren(h("p", {}, "No face set yet: create one above."));
    return;
  }
  const rows = sets.map((set) => {
    const fields = Object.entries(set.external_fields || {}).map(([name, spec]) => `${name} (${spec.type || spec})`);
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete face set ${set.face_set_name}` }, "Delete");
    remove.addEventListener("click", () => removeSet(set, list, remove));
    return h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/sets/${encodeURIComponent(set.face_set_name)}` }, set.face_set_name)),
      h("td", { class: "num" }, set.face_number.toLocaleString()),
      h("td", { class: "num" }, set.face_set_capacity.toLocaleString()),
      h("td", {}, fields.join(", ") || "—"),
      h("td", {}, formatDate(set.create_date)),
      h("td", {}, remove),
    );
  });
  list.replaceChildren(
    h(
      "table",
      { class: "sets" },
      h("caption", { class: "visually-hidden" }, "Face sets of this project"),
      h("thead", {}, h("tr", {}, ["Name", "Faces", "Capacity", "Fields", "Created", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}

async function removeSet(set, list, button) {
  const confirmed = await confirmDialog(
    `Delete face set ${set.face_set_name}?`,
    `This erases ${set.face_number.toLocaleString()} faces of "${set.face_set_name}", their photos, crops and search vectors. It cannot be undone.`,
    `Delete ${set.face_set_name}`,
  );
  if (!confirmed) {
    return;
  }
  await guarded(async () => {
    const result = await callAndWait("DELETE", `/face-sets/${encodeURIComponent(set.face_set_name)}`);
    showMessage(`Deleted ${set.face_set_name} (${result.deleted_faces ?? set.face_number} faces).`, "info");
    await refresh(list);
  }, button);
}

function fieldRow(rows) {
  const name = h("input", { name: "field_name", pattern: "[A-Za-z0-9_]{1,36}", placeholder: "e.g. department" });
  const type = h("select", { name: "field_type" }, FIELD_TYPES.map((t) => h("option", { value: t }, t)));
  const remove = h("button", { type: "button", class: "link" }, "Remove field");
  const row = h("div", { class: "field-row" }, field("Field name", name), field("Type", type), remove);
  remove.addEventListener("click", () => row.remove());
  rows.append(row);
  name.focus();
}

function createForm() {
  const name = h("input", { name: "face_set_name", required: true, pattern: "[A-Za-z0-9_.:-]{1,128}" });
  const capacity = h("input", { name: "face_set_capacity", type: "number", min: 1, placeholder: "default" });
  const rows = h("div", { class: "field-rows" });
  const addField = h("button", { type: "button" }, "Add a field");
  addField.addEventListener("click", () => fieldRow(rows));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "Create a face set"),
    h("div", { class: "inline" }, field("Name", name), field("Capacity (faces)", capacity)),
    h("fieldset", {}, h("legend", {}, "External fields (optional schema)"), rows, addField),
    h("button", { type: "submit" }, "Create face set"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const externalFields = {};
      for (const row of rows.querySelectorAll(".field-row")) {
        const fieldName = row.querySelector("[name=field_name]").value.trim();
        if (fieldName) {
          externalFields[fieldName] = { type: row.querySelector("[name=field_type]").value };
        }
      }
      const body = { face_set_name: name.value.trim(), external_fields: externalFields };
      if (capacity.value) {
        body.face_set_capacity = Number(capacity.value);
      }
      await call("POST", "/face-sets", { json: body });
      showMessage(`Created face set ${body.face_set_name}.`, "info");
      form.reset();
      rows.replaceChildren();
      await refresh(document.querySelector(".table-wrap"));
    }, form.querySelector("button[type=submit]"));
  });
  return form;
}
