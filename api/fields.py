"""The typed custom-field schema of a face set (the seed's ``external_fields``).

A face set declares ``{"name": {"type": t}}``; every face's values are checked against it
with the same coercion the filter language uses (``infra.search_filter.coerce_value``),
so whatever can be stored can be filtered on. Rules from the seed: key length 1-36,
string values 1-256 characters, and the reserved names below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import DomainError, ErrorCode
from infra.search_filter import FilterError, coerce_value, field_type_of

# The seed's reserved names, plus the names FaceFleet renders next to the fields.
RESERVED_FIELD_NAMES = frozenset(
    {
        "vector",
        "bounding_box",
        "external_image_id",
        "face_id",
        "create_time",
        "_id",
        "_all",
        "_source",
        "user_id",
        "similarity",
    }
)
FIELD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,35}$")
MAX_FIELDS = 64


def validate_schema(fields: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Check a face set's declared fields; returns them as ``{name: {"type": t}}``."""
    if len(fields) > MAX_FIELDS:
        raise DomainError(ErrorCode.INVALID_EXTERNAL_FIELDS, f"at most {MAX_FIELDS} external fields")
    schema: dict[str, dict[str, str]] = {}
    for name, spec in fields.items():
        if not FIELD_NAME.fullmatch(name):
            raise DomainError(
                ErrorCode.INVALID_EXTERNAL_FIELDS,
                f"field name {name[:40]!r} must be 1-36 of [A-Za-z0-9_.-], not starting with . or -",
            )
        if name in RESERVED_FIELD_NAMES:
            raise DomainError(ErrorCode.INVALID_EXTERNAL_FIELDS, f"{name!r} is a reserved field name")
        declared = spec.get("type") if isinstance(spec, Mapping) else getattr(spec, "type", spec)
        schema[name] = {"type": str(declared)}
    return schema


def validate_values(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A face's external_fields checked and typed against the face set's schema.
    Fields are optional; unknown names and wrongly typed values are refused."""
    checked: dict[str, Any] = {}
    for name, value in values.items():
        try:
            field_type = field_type_of(schema, name)
            checked[name] = coerce_value(field_type, value, f"external_fields.{name}")
        except FilterError as bad:
            raise DomainError(ErrorCode.INVALID_EXTERNAL_FIELDS, str(bad)) from bad
    return checked


def check_known(schema: Mapping[str, Any], names: Iterable[str], what: str) -> None:
    unknown = sorted(set(names) - set(schema))
    if unknown:
        shown = ", ".join(repr(n[:40]) for n in unknown[:5])
        raise DomainError(
            ErrorCode.INVALID_SORT, f"{what} names fields the face set does not declare: {shown}"
        )
