"""A typed client of the native API v1.

    from facefleet.client import FaceFleet
    ff = FaceFleet("http://127.0.0.1:8080", project_id, api_key)
    ff.create_face_set("staff")
    ff.add_faces("staff", "alice.jpg", user_id="alice")
    hits = ff.search("staff", camera_frame_as_numpy)["faces"]
    job = ff.enroll_batch("staff", paths)          # always asynchronous
    report = job.wait(progress=lambda done, total: print(done, total))

Every call that changes something sends an ``Idempotency-Key`` so the client's own retries
(connection errors, 429 and 503, with exponential backoff) can never apply it twice.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from facefleet.client.errors import FaceFleetError, JobFailed, JobTimeout, Unavailable, error_from_response
from facefleet.client.images import ImageInput, image_bytes
from facefleet.client.multipart import StreamingMultipart

RETRY_STATUSES = frozenset({429, 502, 503, 504})
Progress = Callable[[int, int], None]


@dataclass
class Job:
    """An asynchronous job; ``wait`` polls it until it ends."""

    client: FaceFleet
    job_id: str

    def status(self) -> dict[str, Any]:
        return self.client.job(self.job_id)

    def wait(
        self, timeout: float = 3600.0, progress: Progress | None = None, poll: float = 0.5
    ) -> dict[str, Any]:
        """The job's result once it succeeds; ``JobFailed`` with its code when it fails."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.status()
            if progress is not None and view.get("progress"):
                progress(int(view["progress"]["done"]), int(view["progress"]["total"]))
            if view["status"] == "succeeded":
                result: dict[str, Any] = view.get("result") or {}
                return result
            if view["status"] == "failed":
                error = view.get("error") or {}
                raise JobFailed(
                    200,
                    error.get("error_code", "failed"),
                    error.get("error_msg", ""),
                    error.get("error_details"),
                )
            if time.monotonic() > deadline:
                raise JobTimeout(
                    0, "job_timeout", f"job {self.job_id} still {view['status']} after {timeout} s"
                )
            time.sleep(poll)


class FaceFleet:
    def __init__(
        self,
        url: str,
        project_id: str,
        api_key: str,
        *,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        self.root = url.rstrip("/")
        self.base = f"{self.root}/v1/{project_id}"
        self.project_id = project_id
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.http = session or requests.Session()
        self.http.headers["X-Auth-Token"] = api_key
        retrying = HTTPAdapter(max_retries=transient_retry(retries, backoff))
        self.http.mount("http://", retrying)
        self.http.mount("https://", retrying)

    # ------------------------------------------------------------------ face sets

    def create_face_set(
        self, name: str, capacity: int | None = None, external_fields: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """``external_fields`` maps a field name to its type (string, integer, long, float, double, boolean)."""
        body: dict[str, Any] = {"face_set_name": name}
        if capacity is not None:
            body["face_set_capacity"] = capacity
        if external_fields:
            body["external_fields"] = {field: {"type": kind} for field, kind in external_fields.items()}
        return dict(self._call("POST", "/face-sets", json=body)["face_set_info"])

    def face_sets(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/face-sets")["face_sets_info"])

    def face_set(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/face-sets/{name}")["face_set_info"])

    def delete_face_set(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/face-sets/{name}")

    def calibration(self, name: str) -> dict[str, Any]:
        """The face set's ROC and its thresholds for FAR 1e-2, 1e-3 and 1e-4 (from its user ids)."""
        return self._call("GET", f"/face-sets/{name}/calibration")

    def calibration_svg(self, name: str) -> str:
        """The same curve drawn as SVG."""
        response = self.http.get(
            f"{self.base}/face-sets/{name}/calibration", params={"format": "svg"}, timeout=self.timeout
        )
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("image/svg"):
            body = _json(response)
            raise FaceFleetError(response.status_code, str(body.get("error_code", "")), str(body.get("error_msg", "")))
        return response.text

    # ------------------------------------------------------------------ faces

    def add_faces(
        self,
        face_set: str,
        image: ImageInput,
        *,
        external_image_id: str | None = None,
        user_id: str | None = None,
        external_fields: Mapping[str, Any] | None = None,
        select: str = "all",
        on_duplicate: str = "allow",
        quality_gate: bool = False,
    ) -> dict[str, Any]:
        fields = _form(
            external_image_id=external_image_id,
            user_id=user_id,
            external_fields=dict(external_fields) if external_fields else None,
            select=select,
            on_duplicate=on_duplicate,
            quality_gate=quality_gate,
        )
        return self._call("POST", f"/face-sets/{face_set}/faces", files=_image_file(image), data=fields)

    def face(self, face_set: str, face_id: str) -> dict[str, Any]:
        faces = self._call("GET", f"/face-sets/{face_set}/faces", params={"face_id": face_id})["faces"]
        return dict(faces[0])

    def faces(self, face_set: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        return self._call("GET", f"/face-sets/{face_set}/faces", params={"offset": offset, "limit": limit})

    def update_face(self, face_set: str, face_id: str, **changes: Any) -> dict[str, Any]:
        """``external_image_id``, ``external_fields`` and/or ``user_id``."""
        return self._call("PUT", f"/face-sets/{face_set}/faces", json={"face_id": face_id, **changes})

    def delete_faces(
        self,
        face_set: str,
        *,
        face_id: str | None = None,
        external_image_id: str | None = None,
        filter: str | None = None,
    ) -> dict[str, Any]:
        params = {
            k: v
            for k, v in (("face_id", face_id), ("external_image_id", external_image_id), ("filter", filter))
            if v
        }
        return self._call("DELETE", f"/face-sets/{face_set}/faces", params=params)

    def search(
        self, face_set: str, image: ImageInput | None = None, *, face_id: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """1:N search by an image (largest face) or a stored ``face_id``; options: top_n,
        threshold, filter, sort, return_fields, all_faces, group_by."""
        path = f"/face-sets/{face_set}/search"
        if face_id is not None:
            return self._call("POST", path, json={"face_id": face_id, **options})
        if image is None:
            raise ValueError("give an image or face_id")
        return self._call("POST", path, files=_image_file(image), data=_form(**options))

    # ------------------------------------------------------------------ compute

    def detect(self, image: ImageInput, attributes: Sequence[int] = ()) -> dict[str, Any]:
        data = _form(attributes=",".join(str(code) for code in attributes) if attributes else None)
        return self._call("POST", "/face-detect", files=_image_file(image), data=data)

    def compare(self, first: ImageInput, second: ImageInput) -> dict[str, Any]:
        files = {**_image_file(first, "image1_file"), **_image_file(second, "image2_file")}
        return self._call("POST", "/face-compare", files=files)

    def live_detect(
        self, video: bytes, actions: Sequence[str] = ("blink",), **options: Any
    ) -> dict[str, Any]:
        files = {"video_file": ("video.mp4", video)}
        return self._call(
            "POST", "/live-detect", files=files, data=_form(actions=",".join(actions), **options)
        )

    # ------------------------------------------------------------------ batches and jobs

    def enroll_batch(
        self,
        face_set: str,
        images: Iterable[tuple[str, bytes | Path]],
        *,
        items: Sequence[Mapping[str, Any]] = (),
        select: str = "single",
        on_duplicate: str = "allow",
        idempotency_key: str | None = None,
    ) -> Job:
        """Upload ``(file name, bytes or path)`` pairs as one batch job; ``items`` carry per-file
        ``source`` (the file name), ``user_id``, ``external_image_id``, ``external_fields``.

        The body streams: files given as paths are read from disk block by block while sent."""
        fields = _form(select=select, on_duplicate=on_duplicate, items=[dict(item) for item in items] or None)
        body_stream = StreamingMultipart(fields, [("image_file", name, source) for name, source in images])
        body = self._call(
            "POST",
            f"/face-sets/{face_set}/faces/batch",
            data=body_stream,
            headers={"Content-Type": body_stream.content_type},
            idempotency_key=idempotency_key,
        )
        return Job(self, str(body["job_id"]))

    def enroll_stored(
        self,
        face_set: str,
        *,
        image_keys: Sequence[str] | None = None,
        prefix: str | None = None,
        items: Sequence[Mapping[str, Any]] = (),
        select: str = "single",
        on_duplicate: str = "allow",
        idempotency_key: str | None = None,
    ) -> Job:
        """A batch job over images already in the object store: explicit keys or a prefix."""
        body: dict[str, Any] = {
            "select": select,
            "on_duplicate": on_duplicate,
            "items": [dict(i) for i in items],
        }
        body |= {"image_keys": list(image_keys)} if image_keys is not None else {"prefix": prefix}
        path = f"/face-sets/{face_set}/faces/batch"
        return Job(self, str(self._call("POST", path, json=body, idempotency_key=idempotency_key)["job_id"]))

    def enroll_archive(
        self, face_set: str, archive: Path, *, user_id_from: str = "folder", select: str = "single"
    ) -> Job:
        """A batch job over a zip of images, streamed from disk; folder names can become user ids."""
        fields = _form(user_id_from=user_id_from, select=select)
        body_stream = StreamingMultipart(fields, [("archive", archive.name, archive)])
        headers = {"Content-Type": body_stream.content_type}
        body = self._call("POST", f"/face-sets/{face_set}/faces/batch", data=body_stream, headers=headers)
        return Job(self, str(body["job_id"]))

    def delete_faces_by_filter(self, face_set: str, filter: str) -> dict[str, Any]:
        return self._call("DELETE", f"/face-sets/{face_set}/faces/batch", json={"filter": filter})

    def health(self) -> dict[str, Any]:
        """``/healthz`` (the process is up) merged with ``/readyz`` (its stores are reachable)."""
        alive = self.http.get(f"{self.root}/healthz", timeout=self.timeout)
        ready = self.http.get(f"{self.root}/readyz", timeout=self.timeout)
        return {"healthz": alive.status_code, "readyz": ready.status_code, **_json(ready)}

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def submit(self, method: str, path: str, **kwargs: Any) -> Job:
        """Any job-creating call, asynchronously: answers at once with the job."""
        headers = {"Prefer": "respond-async", **kwargs.pop("headers", {})}
        return Job(self, str(self._call(method, path, headers=headers, **kwargs)["job_id"]))

    # ------------------------------------------------------------------ transport

    def _call(
        self, method: str, path: str, idempotency_key: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if method != "GET":
            headers.setdefault("Idempotency-Key", idempotency_key or uuid.uuid4().hex)
        try:
            response = self.http.request(method, self.base + path, headers=headers, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise Unavailable(0, "connection_failed", str(error)) from error
        if response.status_code >= 400:
            raise error_from_response(response.status_code, _json(response))
        body: dict[str, Any] = response.json()
        return body


class _FullJitterRetry(Retry):
    """urllib3's retry with full jitter (a uniform delay up to the exponential bound), so
    many clients retrying the same busy server spread out instead of arriving together."""

    def get_backoff_time(self) -> float:
        bound = super().get_backoff_time()
        return random.uniform(0, bound) if bound > 0 else 0.0


def transient_retry(retries: int, backoff: float) -> Retry:
    """Connection failures, read timeouts and 429/502/503/504 are retried up to ``retries``
    times with exponential backoff from ``backoff`` seconds. Every method is retried: a call
    that changes something carries an Idempotency-Key, so a retry never applies it twice."""
    return _FullJitterRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        # The last answer is returned, so its error body is what the caller sees.
        raise_on_status=False,
        respect_retry_after_header=False,
    )


def _image_file(image: ImageInput, field: str = "image_file") -> dict[str, tuple[str, bytes]]:
    return {field: image_bytes(image)}


def _form(**values: Any) -> dict[str, str]:
    """Multipart form fields: strings as they are, everything else as JSON."""
    form: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        form[name] = value if isinstance(value, str) else json.dumps(value)
    return form


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"error_msg": response.text[:200]}


__all__ = ["FaceFleet", "FaceFleetError", "Job"]
