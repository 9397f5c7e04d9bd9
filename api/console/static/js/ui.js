// Small DOM helpers: build elements, show a message in words, confirm with a dialog.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) {
      continue;
    }
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let uniqueIds = 0;

// A labelled control: <label for=id>text</label> + the control.
export function field(text, control, hint) {
  if (!control.id) {
    uniqueIds += 1;
    control.id = `control-${uniqueIds}`;
  }
  const parts = [h("label", { for: control.id }, text), control];
  if (hint) {
    uniqueIds += 1;
    const hintId = `hint-${uniqueIds}`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "hint" }, hint));
  }
  return h("div", { class: "field" }, parts);
}

export function showMessage(text, kind = "error") {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

export function clearMessage() {
  showMessage("");
}

// Runs an action; any failure is shown in words instead of vanishing into the console.
export async function guarded(action, busyButton) {
  if (busyButton) {
    busyButton.disabled = true;
  }
  try {
    clearMessage();
    return await action();
  } catch (error) {
    showMessage(error.message || String(error));
    return undefined;
  } finally {
    if (busyButton) {
      busyButton.disabled = false;
    }
  }
}

export function confirmDialog(title, text, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, text),
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { value: "cancel", type: "submit", autofocus: true }, "Cancel"),
        h("button", { value: "confirm", type: "submit", class: "danger" }, confirmLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function page(title, ...children) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, title), ...children.filter((child) => child !== null && child !== undefined && child !== false));
  document.title = `${title} · FaceFleet console`;
  return main;
}

export function formatDate(text) {
  return text ? `${text} UTC` : "";
}

export function download(filename, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function csvLine(values) {
  return values
    .map((value) => {
      const text = value === undefined || value === null ? "" : String(value);
      return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    })
    .join(",");
}

// A select of the project's face sets (value: the name).
export function faceSetSelect(faceSets, selected) {
  return h(
    "select",
    { name: "face_set" },
    faceSets.map((set) =>
      h("option", { value: set.face_set_name, selected: set.face_set_name === selected }, set.face_set_name),
    ),
  );
}

// Positions a box (image pixels) over an <img> drawn at any size, in percentages.
export function placeBox(box, bounding, image) {
  const width = image.naturalWidth || 1;
  const height = image.naturalHeight || 1;
  Object.assign(box.style, {
    left: `${(100 * bounding.top_left_x) / width}%`,
    top: `${(100 * bounding.top_left_y) / height}%`,
    width: `${(100 * bounding.width) / width}%`,
    height: `${(100 * bounding.height) / height}%`,
  });
}
