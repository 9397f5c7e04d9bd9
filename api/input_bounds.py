"""The input boundary every surface shares: client values parsed and bounded once, before
any work, so that no value a client can send reaches a database, a parser or a queue in a
shape that fails there (as a 5xx) instead of here (as the surface's own 4xx).

Every check raises ``InputRefused``; the native API renders it as ``FRS.0001`` and each
dialect as its document's bad-argument answer (``api.dialects.common.failure_of``). The
limits are listed per surface in docs/RELIABILITY.md.
"""

from __future__ import annotations

import re

# Far below the ~1000 levels at which Python's own JSON decoder and pydantic recurse out,
# far above any body the API documents (external_fields and batch items nest 3 deep).
MAX_JSON_DEPTH = 32
# Native names (api.schemas): face sets 1-64 of [A-Za-z0-9_-], user ids 1-128 of
# [A-Za-z0-9_.@:-]. A value outside them could be stored, but never read, filtered or
# deleted through the native API, so a dialect must refuse it.
NATIVE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
NATIVE_USER_ID = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")
ASCII_DIGITS = re.compile(r"[0-9]+")
# Enough digits for any int64; longer digit strings are refused before int() sees them
# (int() of 5000 digits raises ValueError, and of 4000 costs quadratic time).
MAX_INTEGER_DIGITS = 19


class InputRefused(ValueError):
    """A client value outside its bounds. ``argument`` names the parameter; the message
    says what is accepted and never echoes the value."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.message = f"{argument} {message}"


def json_nesting_depth(text: str | bytes, stop_after: int = MAX_JSON_DEPTH) -> int:
    """The deepest bracket nesting of a JSON text, without parsing it (the parser itself is
    what recurses out). Brackets inside strings do not count. Stops counting past
    ``stop_after``, so the scan is linear and cheap on any input."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def check_json_depth(text: str | bytes, argument: str = "body", limit: int = MAX_JSON_DEPTH) -> None:
    if json_nesting_depth(text, limit) > limit:
        raise InputRefused(argument, f"nests JSON deeper than {limit} levels")


def bounded_text(value: str, argument: str, max_bytes: int) -> str:
    """``value`` when its UTF-8 encoding fits ``max_bytes`` (a column's width is bytes on
    some stores and characters on others; bytes bound both)."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as bad:  # lone surrogates from a form decoder
        raise InputRefused(argument, "is not valid UTF-8 text") from bad
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise InputRefused(argument, "must not contain NUL characters")
    if size > max_bytes:
        raise InputRefused(argument, f"is longer than {max_bytes} bytes")
    return value


def ascii_integer(text: str, argument: str, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    """An integer written in ASCII decimal digits within [minimum, maximum]. ``str.isdigit``
    and ``int`` also accept '²', '٣' and full-width digits, which no stored id contains."""
    text = text.strip()
    if not ASCII_DIGITS.fullmatch(text) or len(text.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise InputRefused(argument, f"must be a whole number from {minimum} to {maximum}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise InputRefused(argument, f"must be a whole number from {minimum} to {maximum}")
    return value


def is_ascii_integer(text: str, minimum: int = 0, maximum: int = 2**63 - 1) -> bool:
    try:
        ascii_integer(text, "value", minimum, maximum)
    except InputRefused:
        return False
    return True


def native_user_id(value: str, argument: str) -> str:
    """A person's name as the native API stores it (``user_id``)."""
    if not NATIVE_USER_ID.fullmatch(value):
        raise InputRefused(argument, "must be 1-128 of A-Z a-z 0-9 _ . @ : -")
    return value


def native_name(value: str, argument: str, prefix: str = "") -> str:
    """``prefix + value`` when it is a native face set name (1-64 of [A-Za-z0-9_-])."""
    name = prefix + value
    if not value or not NATIVE_NAME.fullmatch(name):
        room = 64 - len(prefix)
        raise InputRefused(argument, f"must be 1-{room} of A-Z a-z 0-9 _ -")
    return name
