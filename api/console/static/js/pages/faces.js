// The faces of one face set: a grid of crops filtered by person and by field, paged by
// offset (the API caps it; a page is one query however large the set), and a face's own
// view with its source photo and box; delete a face or a whole person.
import { call, callAndWait, faceImageUrl } from "../api.js";
import { confirmDialog, field, guarded, h, page, showMessage, placeBox } from "../ui.js";

const PAGE_SIZE = 48;
const state = { offset: 0, userId: "", filter: "" };
let currentSet = "";

export async function render([faceSet, section, faceId]) {
  if (faceSet !== currentSet) {
    Object.assign(state, { offset: 0, userId: "", filter: "" });
    currentSet = faceSet;
  }
  if (section === "face" && faceId) {
    return renderFace(faceSet, faceId);
  }
  const person = h("select", { name: "user_id" }, h("option", { value: "" }, "Everyone"));
  const filter = h("input", { name: "filter", value: state.filter, placeholder: "e.g. team:sales" });
  const apply = h("button", { type: "submit" }, "Apply");
  const deletePerson = h("button", { type: "button", class: "danger", hidden: !state.userId }, "Delete this person");
  const filters = h(
    "form",
    { class: "inline filters", role: "search", "aria-label": "Filter faces" },
    field("Person (user_id)", person),
    field("Field filter", filter, "The search filter syntax (field:value, ranges, &&, ||) on the set's external fields."),
    apply,
    deletePerson,
  );
  const grid = h("ul", { class: "grid", "aria-label": "Faces" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of faces" });
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  page(
    `Faces of ${faceSet}`,
    h("p", {}, h("a", { href: "#/sets" }, "← All face sets")),
    filters,
    summary,
    grid,
    pager,
  );

  // The first 1000 persons by user_id fill the picker; a larger set is filtered by field.
  const persons = await call("GET", `/face-sets/${encodeURIComponent(faceSet)}/persons?limit=1000`).catch((error) => {
    showMessage(`The person list is unavailable: ${error.message}`);
    return { persons: [] };
  });
  for (const item of persons.persons || []) {
    person.append(
      h("option", { value: item.user_id, selected: item.user_id === state.userId }, `${item.user_id} (${item.face_count})`),
    );
  }
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { offset: 0, userId: person.value, filter: filter.value.trim() });
    render([faceSet]);
  });
  person.addEventListener("change", () => filters.requestSubmit());
  deletePerson.addEventListener("click", () => removePerson(faceSet, state.userId, deletePerson));
  await loadPage(faceSet, grid, pager, summary);
}

async function loadPage(faceSet, grid, pager, summary) {
  const query = new URLSearchParams({ offset: state.offset, limit: PAGE_SIZE });
  if (state.userId) {
    query.set("user_id", state.userId);
  }
  if (state.filter) {
    query.set("filter", state.filter);
  }
  const body = await call("GET", `/face-sets/${encodeURIComponent(faceSet)}/faces?${query}`);
  const faces = body.faces || [];
  const total = body.total ?? faces.length;
  summary.textContent = total
    ? `Faces ${state.offset + 1}–${state.offset + faces.length} of ${total.toLocaleString()}`
    : "No face matches.";
  grid.replaceChildren(...faces.map((face) => faceTile(faceSet, face)));
  const previous = h("button", { type: "button", disabled: state.offset === 0 }, "Previous page");
  const next = h("button", { type: "button", disabled: state.offset + faces.length >= total }, "Next page");
  previous.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    loadPage(faceSet, grid, pager, summary).catch((error) => showMessage(error.message));
  });
  next.addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    loadPage(faceSet, grid, pager, summary).catch((error) => showMessage(error.message));
  });
  pager.replaceChildren(previous, h("span", {}, `Page ${Math.floor(state.offset / PAGE_SIZE) + 1} of ${Math.max(1, Math.ceil(total / PAGE_SIZE))}`), next);
}

function faceTile(faceSet, face) {
  const image = h("img", { alt: `Face of ${face.user_id || face.external_image_id}`, width: 112, height: 112, loading: "lazy" });
  faceImageUrl(faceSet, face.face_id).then((url) => (image.src = url)).catch(() => (image.alt = "crop unavailable"));
  const fields = Object.entries(face.external_fields || {}).map(([k, v]) => `${k}: ${v}`);
  return h(
    "li",
    { class: "tile", dataset: { faceId: face.face_id, userId: face.user_id || "" } },
    h(
      "a",
      { href: `#/sets/${encodeURIComponent(faceSet)}/face/${encodeURIComponent(face.face_id)}` },
      image,
      h("span", { class: "person" }, face.user_id || "no user_id"),
      h("span", { class: "meta" }, face.external_image_id),
      fields.length ? h("span", { class: "meta" }, fields.join(" · ")) : null,
    ),
  );
}

async function renderFace(faceSet, faceId) {
  const body = await call("GET", `/face-sets/${encodeURIComponent(faceSet)}/faces?face_id=${encodeURIComponent(faceId)}`);
  const face = body.faces[0];
  const photo = h("img", { alt: `Source photo of face ${face.face_id}` });
  const box = h("div", { class: "box", "aria-hidden": "true" });
  const figure = h("figure", { class: "photo" }, h("div", { class: "frame" }, photo, box), h("figcaption", {}, "The face's box on the photo it was enrolled from."));
  photo.addEventListener("load", () => placeBox(box, face.bounding_box, photo));
  faceImageUrl(faceSet, face.face_id, "source").then((url) => (photo.src = url)).catch((error) => showMessage(error.message));
  const removeFace = h("button", { type: "button", class: "danger" }, "Delete this face");
  removeFace.addEventListener("click", async () => {
    if (await confirmDialog("Delete this face?", `This erases face ${face.face_id} (${face.user_id || "no user_id"}) from ${faceSet}: its vector, crop and record.`, "Delete face")) {
      await guarded(async () => {
        await callAndWait("DELETE", `/face-sets/${encodeURIComponent(faceSet)}/faces?face_id=${encodeURIComponent(face.face_id)}`);
        showMessage(`Deleted face ${face.face_id}.`, "info");
        location.hash = `#/sets/${encodeURIComponent(faceSet)}`;
      }, removeFace);
    }
  });
  const details = h(
    "dl",
    { class: "details" },
    h("dt", {}, "Face id"), h("dd", {}, face.face_id),
    h("dt", {}, "Person (user_id)"), h("dd", {}, face.user_id || "—"),
    h("dt", {}, "External image id"), h("dd", {}, face.external_image_id),
    h("dt", {}, "Fields"), h("dd", {}, JSON.stringify(face.external_fields || {})),
    h("dt", {}, "Box"), h("dd", {}, `${face.bounding_box.width}×${face.bounding_box.height} at (${face.bounding_box.top_left_x}, ${face.bounding_box.top_left_y})`),
  );
  const actions = [removeFace];
  if (face.user_id) {
    const removePersonButton = h("button", { type: "button", class: "danger" }, `Delete person ${face.user_id}`);
    removePersonButton.addEventListener("click", () => removePerson(faceSet, face.user_id, removePersonButton));
    actions.push(removePersonButton);
  }
  page(`Face ${face.face_id}`, h("p", {}, h("a", { href: `#/sets/${encodeURIComponent(faceSet)}` }, `← Faces of ${faceSet}`)), h("div", { class: "columns" }, figure, h("div", {}, details, h("div", { class: "actions" }, actions))));
}


async function removePerson(faceSet, userId, button) {
  const confirmed = await confirmDialog(
    `Delete person ${userId}?`,
    `This erases every face of "${userId}" in ${faceSet}: vectors, crops and records. It cannot be undone.`,
    `Delete ${userId}`,
  );
  if (!confirmed) {
    return;
  }
  await guarded(async () => {
    const result = await callAndWait("DELETE", `/face-sets/${encodeURIComponent(faceSet)}/persons/${encodeURIComponent(userId)}`);
    showMessage(`Deleted person ${userId} (${result.deleted_faces ?? "all"} faces).`, "info");
    Object.assign(state, { offset: 0, userId: "" });
    if (location.hash === `#/sets/${encodeURIComponent(faceSet)}`) {
      await render([faceSet]);
    } else {
      location.hash = `#/sets/${encodeURIComponent(faceSet)}`;
    }
  }, button);
}
