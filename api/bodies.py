"""Request bodies that arrive as JSON or as multipart, validated with pydantic models that
also generate the OpenAPI document.

flask-openapi3 documents and validates one body kind per operation (``body`` or ``form``);
the seed's endpoints take both, so operations declare them here instead: ``body_doc``
builds the requestBody with the library's own schema builders (both media types, schemas
in components), and ``parse_body`` validates the request with the matching model.
"""

from __future__ import annotations

import functools
import json
from typing import Any, TypeVar

from flask import request
from flask_openapi3 import APIBlueprint
from flask_openapi3.models import RequestBody
from flask_openapi3.utils import parse_body as _library_json_body
from flask_openapi3.utils import parse_form as _library_form_body
from pydantic import BaseModel, ValidationError

from api.errors import ApiError, ApiErrorCode
from api.input_bounds import check_json_depth

JsonModel = TypeVar("JsonModel", bound=BaseModel)
MULTIPART = "multipart/form-data"


def body_doc(
    blueprint: APIBlueprint, json_model: type[BaseModel] | None, form_model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """``openapi_extensions`` that document a body accepted as JSON and/or multipart."""
    content: dict[str, Any] = {}
    for builder, model in ((_library_json_body, json_model), (_library_form_body, form_model)):
        if model is None:
            continue
        media, schemas = builder(model)
        content.update(media)
        blueprint.components_schemas.update(schemas)
    return {"requestBody": RequestBody(content=content, required=True)}


def parse_body(json_model: type[JsonModel], form_model: type[BaseModel] | None = None) -> JsonModel | Any:
    """Validate the request body with the model for its media type."""
    mimetype = request.mimetype
    if form_model is not None and mimetype == MULTIPART:
        return validate(form_model, _form_values(form_model))
    if mimetype == "application/json" or (form_model is None and not request.get_data(cache=True)):
        return validate(json_model, _json_object())
    accepted = "application/json" + (" or multipart/form-data" if form_model is not None else "")
    raise ApiError(ApiErrorCode.UNSUPPORTED_MEDIA_TYPE, f"send {accepted}, not {mimetype or 'no content type'}")


def validate(model: type[JsonModel], data: Any) -> JsonModel:
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        raise ApiError(ApiErrorCode.INVALID_PARAMETER, describe_validation_error(invalid)) from invalid


def describe_validation_error(error: ValidationError) -> str:
    """A short, input-free description: field paths and what was expected."""
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _json_object() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    check_json_depth(raw)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as bad:
        raise ApiError(ApiErrorCode.INVALID_JSON) from bad
    if not isinstance(data, dict):
        raise ApiError(ApiErrorCode.INVALID_JSON, "the request body must be a JSON object")
    return data


def _form_values(model: type[BaseModel]) -> dict[str, Any]:
    """Form fields and files as the model expects them. Values of fields whose schema is
    not a string (objects, arrays, numbers, booleans) arrive as JSON text and are decoded;
    strings are kept verbatim, so ``external_image_id=123`` stays a string."""
    properties = _properties(model)
    values: dict[str, Any] = {}
    for name, schema in properties.items():
        if _is_file(schema):
            files = [f for f in request.files.getlist(name) if f.filename or f.content_length]
            if files:
                values[name] = files if _is_array(schema) else files[0]
        elif name in request.form:
            raw_values = request.form.getlist(name)
            decoded = [_decode(raw, schema) for raw in raw_values]
            values[name] = decoded if _is_array(schema) and len(decoded) > 1 else decoded[0]
    for name in list(request.form.keys()) + list(request.files.keys()):
        if name not in properties:
            values[name] = request.form.get(name, "")  # unknown parts: let extra="forbid" name them
    return values


def decode_form_fields(model: type[BaseModel], fields: dict[str, str]) -> dict[str, Any]:
    """Form fields parsed elsewhere (a streamed multipart body), decoded as ``model`` expects."""
    properties = _properties(model)
    return {name: _decode(raw, properties[name]) if name in properties else raw for name, raw in fields.items()}


@functools.cache
def _properties(model: type[BaseModel]) -> dict[str, Any]:
    """A form model's field schemas, built once: pydantic builds a schema anew each time
    (about a millisecond), and a model's cannot change. Read only by the callers here."""
    properties: dict[str, Any] = model.model_json_schema().get("properties", {})
    return properties


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return list(schema.get("anyOf", [])) or [schema]


def _is_file(schema: dict[str, Any]) -> bool:
    for variant in _variants(schema):
        if variant.get("format") == "binary" or variant.get("items", {}).get("format") == "binary":
            return True
    return False


def _is_array(schema: dict[str, Any]) -> bool:
    return any(variant.get("type") == "array" for variant in _variants(schema))


def _decode(raw: str, schema: dict[str, Any]) -> Any:
    if any(variant.get("type") == "string" or "enum" in variant or "const" in variant for variant in _variants(schema)):
        return raw
    check_json_depth(raw, "form field")
    try:
        return json.loads(raw)
    except ValueError:
        return raw
