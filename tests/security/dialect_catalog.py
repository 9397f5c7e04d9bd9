"""Every dialect endpoint, its parameters, and its document's answer shape, for the
Hypothesis fuzzer (``test_dialect_fuzz.py``; the native API is Schemathesis' job).

Values are drawn from what broke the service before (issue 23): over-long and multi-byte
text, unicode and huge numbers, path traversal, markup, NUL and control characters, deep
JSON, broken base64, real and broken images, plus well-formed values so that generated
requests also get past authentication and argument checks into the handlers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from api.dialects.face_gateway_codes import MESSAGES as SEED003_MESSAGES
from api.dialects.facenet_web import ERRORS as SEED002_ERRORS

HOSTILE_TEXT = [
    "", " ", "0", "-1", "1e9999", "nan", "inf", "\N{SUPERSCRIPT TWO}", "\N{ARABIC-INDIC DIGIT THREE}", "\uff11",
    "9" * 5000, "1" * 20, "../../../etc", "x/y", "..", "<script>alert(1)</script>", "a\x00b", "\x01\x7f",
    "\N{GRINNING FACE}" * 128, "x" * 300, "\u202e", "'; DROP TABLE faces; --", "{}", "[" * 1000 + "]" * 1000,
    "%00", "\\\\server\\share", "data:image/png;base64,AAAA",
]


def text_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=400),
        st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    )


@dataclass(frozen=True)
class Images:
    photo: bytes  # a real one-face photo

    def raw(self) -> st.SearchStrategy[bytes]:
        return st.one_of(
            st.just(self.photo),
            st.just(self.photo[: len(self.photo) // 3]),  # truncated
            st.binary(max_size=64),
            st.just(b"GIF89a" + b"\x00" * 20),
            st.just(b"II*\x00" + b"\x00" * 64),  # a TIFF header
        )

    def base64_text(self) -> st.SearchStrategy[str]:
        return st.one_of(self.raw().map(lambda data: base64.b64encode(data).decode()), text_values())


@dataclass(frozen=True)
class Endpoint:
    surface: str
    method: str
    path: str
    texts: tuple[str, ...] = ()  # form (or query) text parameters
    images: tuple[str, ...] = ()  # base64 text parameters
    files: tuple[str, ...] = ()  # multipart file parameters
    in_query: bool = False
    credentials: dict[str, str] = field(default_factory=dict)  # filled per run

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


D001_TEXTS = ("Fid", "Fname", "Threshold", "Action")
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("seed000", "POST", "/get_face_descriptor", files=("file",)),
    *(
        Endpoint("seed001", method, "/api/face", texts=D001_TEXTS, images=("Fimg",))
        for method in ("GET", "POST", "PUT", "DELETE")
    ),
    Endpoint("seed001", "GET", "/api/singleface", texts=("Fid",)),
    Endpoint("seed001", "POST", "/api/similarity", images=("Fimg1", "Fimg2", "Fimg3")),
    Endpoint("seed001", "POST", "/api/detection", images=("Fimg",)),
    Endpoint("seed001", "POST", "/api/match", texts=("Fid", "Threshold"), images=("Fimg",)),
    Endpoint("seed001", "POST", "/api/living", texts=("Fid", "Threshold", "Action"), images=("Fvideo",)),
    Endpoint("seed002", "POST", "/detect", files=("image_file",)),
    Endpoint("seed002", "POST", "/search", texts=("threshold",), files=("image_file",)),
    Endpoint("seed002", "GET", "/search", texts=("face_token", "threshold"), in_query=True),
    Endpoint("seed002", "GET", "/addface", texts=("face_token", "face_name"), in_query=True),
    Endpoint("seed002", "GET", "/removeface", texts=("face_token",), in_query=True),
    *(
        Endpoint("seed003", "POST", f"/cv/face/{name}", texts=texts, files=files)
        for name, texts, files in (
            ("face_register", ("app_id", "user_id", "face_direction"), ("image",)),
            ("face_update", ("app_id", "face_id", "face_direction"), ("image",)),
            ("face_delete", ("app_id", "face_id"), ()),
            ("face_search", ("app_id", "user_id"), ()),
            ("face_check", ("max_num",), ("image",)),
            ("face_recognise", ("app_id",), ("image",)),
            ("face_compare", ("app_id", "user_id"), ("image", "image_1")),
        )
    ),
)


def error_class(endpoint: Endpoint, status: int, body: Any) -> str:
    """The answer's class in its surface's own vocabulary (e.g. ``seed003:40307``)."""
    if not isinstance(body, dict):
        return f"{endpoint.surface}:{status}:not-json"
    code = {"seed000": "error", "seed001": "msg_code", "seed002": "error_code", "seed003": "code"}[endpoint.surface]
    return f"{endpoint.surface}:{status}:{body.get(code, 'ok')}"


def _seed000(status: int, body: dict[str, Any]) -> bool:
    if status == 200 and body.get("success") is True:
        return isinstance(body.get("face_descriptor"), list)
    return status in (200, 400, 413) and isinstance(body.get("error"), str)


def _seed001(status: int, body: dict[str, Any]) -> bool:
    return status in (200, 429) and body.get("msg_code") in range(1, 9)


def _seed002(status: int, body: dict[str, Any]) -> bool:
    if body.get("success") is True:
        return body.get("sucess") is True
    return status == 200 and body.get("error_code") in SEED002_ERRORS and body.get("sucess") is False


def _seed003(status: int, body: dict[str, Any]) -> bool:
    code = body.get("code")
    if status in (401, 429):
        return code == status and isinstance(body.get("message"), str)
    return status == 200 and (code == 200 or code in SEED003_MESSAGES) and isinstance(body.get("message"), str)


SHAPES: dict[str, Callable[[int, dict[str, Any]], bool]] = {
    "seed000": _seed000, "seed001": _seed001, "seed002": _seed002, "seed003": _seed003,
}


def is_refusal(endpoint: Endpoint, status: int, body: dict[str, Any]) -> bool:
    if status >= 400:
        return True
    if endpoint.surface == "seed001":
        return body.get("msg_code") != 1
    if endpoint.surface == "seed002":
        return body.get("success") is not True
    if endpoint.surface == "seed003":
        return body.get("code") != 200
    return body.get("success") is not True
