// Search: drop, paste or choose a photo; every face is boxed, each box lists its matches or
// says "unknown"; the threshold slider re-filters the answer already received. Compare:
// two photos side by side with their similarity.
import { ApiFailure, call, callAndWait, faceImageUrl } from "../api.js";
import { faceSetSelect, field, guarded, h, page, showMessage, placeBox } from "../ui.js";

const TOP_N = 5;
let lastPhoto = null;

export async function render() {
  const sets = (await call("GET", "/face-sets")).face_sets_info || [];
  const faceSet = faceSetSelect(sets, sessionStorage.getItem("facefleet.console.set"));
  const photoInput = h("input", { type: "file", name: "photo", accept: "image/*" });
  const threshold = h("input", { type: "range", name: "threshold", min: 0, max: 1, step: 0.01, value: 0.5 });
  const thresholdValue = h("output", { for: "threshold" }, "0.50");
  threshold.id = "threshold";
  const drop = h("div", { class: "drop", tabindex: 0, role: "button", "aria-label": "Drop or paste a photo here, or press Enter to choose one" }, "Drop or paste a photo here");
  const stage = h("div", { class: "stage" });
  const results = h("ol", { class: "results", "aria-label": "Faces found" });
  let answer = null;
  let photoUrl = null;

  const show = () => {
    thresholdValue.textContent = Number(threshold.value).toFixed(2);
    if (answer) {
      drawAnswer(stage, results, photoUrl, answer, Number(threshold.value), faceSet.value);
    }
  };
  const runSearch = (file) =>
    guarded(async () => {
      if (!file) {
        return;
      }
      if (!sets.length) {
        throw new ApiFailure("Create a face set and enroll faces first.", 0, "");
      }
      sessionStorage.setItem("facefleet.console.set", faceSet.value);
      const form = new FormData();
      form.append("image_file", file, file.name || "pasted.png");
      form.append("all_faces", "true");
      form.append("top_n", String(TOP_N));
      form.append("threshold", "0");
      stage.replaceChildren(h("p", {}, "Searching…"));
      results.replaceChildren();
      answer = null;
      try {
        answer = await callAndWait("POST", `/face-sets/${encodeURIComponent(faceSet.value)}/search`, { form });
      } catch (error) {
        stage.replaceChildren();
        throw error;
      }
      if (photoUrl) {
        URL.revokeObjectURL(photoUrl);
      }
      photoUrl = URL.createObjectURL(file);
      lastPhoto = file;
      show();
      if (!(answer.results || []).length) {
        showMessage("No face was found on this photo.", "info");
      }
    });

  photoInput.addEventListener("change", () => runSearch(photoInput.files[0]));
  threshold.addEventListener("input", show);
  drop.addEventListener("keydown", (event) => (event.key === "Enter" || event.key === " ") && (event.preventDefault(), photoInput.click()));
  drop.addEventListener("dragover", (event) => event.preventDefault());
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    runSearch(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", onPaste);
  function onPaste(event) {
    if (!document.body.contains(stage)) {
      document.removeEventListener("paste", onPaste);
      return;
    }
    const item = [...(event.clipboardData?.items || [])].find((entry) => entry.type.startsWith("image/"));
    if (item) {
      runSearch(item.getAsFile());
    }
  }

  page(
    "Search",
    h(
      "form",
      { class: "card", onsubmit: (event) => event.preventDefault() },
      h("div", { class: "inline" }, field("Face set", faceSet), field("Photo", photoInput), h("div", { class: "field" }, h("label", { for: "threshold" }, "Threshold (similarity)"), threshold, thresholdValue)),
      drop,
    ),
    h("div", { class: "columns search" }, stage, results),
    compareSection(),
  );
}

function drawAnswer(stage, results, photoUrl, answer, threshold, faceSet) {
  const image = h("img", { src: photoUrl, alt: "The searched photo" });
  const frame = h("div", { class: "frame" }, image);
  stage.replaceChildren(frame);
  const groups = answer.results || [];
  const items = groups.map((group, index) => {
    const matches = (group.faces || []).filter((match) => match.similarity >= threshold);
    const best = matches[0];
    const label = best ? best.user_id || best.external_image_id : "unknown";
    const box = h("div", { class: `box ${best ? "known" : "unknown"}`, dataset: { label } }, h("span", { class: "tag" }, `${index + 1}. ${label}`));
    frame.append(box);
    if (group.face) {
      const place = () => placeBox(box, group.face.bounding_box, image);
      image.complete ? place() : image.addEventListener("load", place);
    }
    return h(
      "li",
      { class: "result", dataset: { label } },
      h("h3", {}, `Face ${index + 1}: ${label}`),
      matches.length
        ? h("ul", { class: "matches" }, matches.map((match) => matchItem(faceSet, match)))
        : h("p", {}, `Unknown: no enrolled face at or above ${threshold.toFixed(2)}.`),
    );
  });
  results.replaceChildren(...items);
}

function matchItem(faceSet, match) {
  const crop = h("img", { alt: `Enrolled face of ${match.user_id || match.external_image_id}`, width: 56, height: 56 });
  faceImageUrl(faceSet, match.face_id).then((url) => (crop.src = url)).catch(() => (crop.alt = "crop unavailable"));
  return h(
    "li",
    {},
    crop,
    h("a", { href: `#/sets/${encodeURIComponent(faceSet)}/face/${encodeURIComponent(match.face_id)}` }, match.user_id || match.external_image_id),
    h("span", { class: "similarity" }, match.similarity.toFixed(3)),
  );
}


function compareSection() {
  const first = h("input", { type: "file", name: "image1", accept: "image/*" });
  const second = h("input", { type: "file", name: "image2", accept: "image/*" });
  const button = h("button", { type: "submit" }, "Compare");
  const outcome = h("div", { class: "compare", "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "compare-title" }, h("h2", { id: "compare-title" }, "Compare two photos"), h("div", { class: "inline" }, field("First photo", first), field("Second photo", second)), button, outcome);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const one = first.files[0] || lastPhoto;
      const two = second.files[0];
      if (!one || !two) {
        throw new ApiFailure("Choose two photos to compare.", 0, "");
      }
      const body = new FormData();
      body.append("image1_file", one, one.name || "first.png");
      body.append("image2_file", two, two.name || "second.png");
      const result = await callAndWait("POST", "/face-compare", { form: body });
      const pictures = [one, two].map((file, index) => {
        const image = h("img", { src: URL.createObjectURL(file), alt: `Photo ${index + 1}` });
        const box = h("div", { class: "box known" });
        const faceView = result[`image${index + 1}_face`];
        image.addEventListener("load", () => placeBox(box, faceView.bounding_box, image));
        return h("div", { class: "frame" }, image, box);
      });
      outcome.replaceChildren(h("div", { class: "side-by-side" }, pictures), h("p", { class: "similarity-line" }, `Similarity: ${result.similarity.toFixed(3)}`));
    }, button);
  });
  return form;
}
