// The v1 API as the console sees it: the key from this tab's sessionStorage on every call,
// and every failure turned into a sentence (ApiFailure.message) the page can show.

const SESSION_KEY = "facefleet.console.session";

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "{}");
  } catch {
    return {};
  }
}

export function saveSession(value) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

export class ApiFailure extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const STATUS_WORDS = {
  400: "The request was refused",
  401: "The key was not accepted",
  403: "This key may not do that",
  404: "Not found",
  413: "The upload is too large",
  429: "Too many requests; wait a moment and retry",
  500: "The service failed",
  503: "A part of the service is unavailable; retry later",
};

export async function failureOf(response) {
  let code = "";
  let detail = "";
  try {
    const body = await response.json();
    code = body.error_code || "";
    detail = body.error_msg || "";
  } catch {
    detail = "";
  }
  const lead = STATUS_WORDS[response.status] || `The service answered HTTP ${response.status}`;
  const text = detail ? `${lead}: ${detail}` : `${lead}.`;
  return new ApiFailure(code ? `${text} (${code})` : text, response.status, code);
}

function tokenFor(scope) {
  const current = session();
  return scope === "admin" ? current.admin_token : current.api_key;
}

export function projectPath(path) {
  return `/v1/${encodeURIComponent(session().project_id || "")}${path}`;
}

// scope "project" prefixes /v1/{project_id}; "admin" sends the operator's token.
export async function call(method, path, { json, form, scope = "project", token, raw = false } = {}) {
  const headers = { "X-Auth-Token": token ?? tokenFor(scope) ?? "" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const url = scope === "project" ? projectPath(path) : path;
  let response;
  try {
    response = await fetch(url, { method, headers, body, cache: "no-store", credentials: "omit" });
  } catch (error) {
    throw new ApiFailure(`The service cannot be reached (${error.message}).`, 0, "");
  }
  if (!response.ok) {
    throw await failureOf(response);
  }
  if (raw) {
    return response;
  }
  return response.status === 204 ? {} : response.json();
}

// A job answered 202: poll it until it is final (onProgress sees every view).
export async function waitForJob(jobId, onProgress = () => {}, intervalMs = 700) {
  for (;;) {
    const view = await call("GET", `/jobs/${encodeURIComponent(jobId)}`);
    onProgress(view);
    if (view.status === "succeeded") {
      return view;
    }
    if (view.status === "failed") {
      const error = view.error || {};
      throw new ApiFailure(`The job failed: ${error.error_msg || "no reason given"} (${error.error_code || "?"})`, 200, error.error_code);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// A synchronous call that may still come back 202 (the job outlived the wait).
export async function callAndWait(method, path, options = {}) {
  const response = await call(method, path, { ...options, raw: true });
  const body = await response.json();
  if (response.status === 202 && body.job_id) {
    return (await waitForJob(body.job_id)).result;
  }
  return body;
}

const imageCache = new Map();

// Images need the key header, so they are fetched and shown as blob: URLs.
export async function faceImageUrl(faceSet, faceId, variant = "crop") {
  const key = `${session().project_id}/${faceSet}/${faceId}/${variant}`;
  if (!imageCache.has(key)) {
    const pending = call(
      "GET",
      `/face-sets/${encodeURIComponent(faceSet)}/faces/${encodeURIComponent(faceId)}/image?variant=${variant}`,
      { raw: true },
    )
      .then((response) => response.blob())
      .then((blob) => URL.createObjectURL(blob));
    pending.catch(() => imageCache.delete(key));
    imageCache.set(key, pending);
  }
  return imageCache.get(key);
}

export function forgetImages() {
  for (const pending of imageCache.values()) {
    pending.then((url) => URL.revokeObjectURL(url)).catch(() => {});
  }
  imageCache.clear();
}
