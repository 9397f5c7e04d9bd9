"""Base class of the header and query models of the native API's routes.

flask-openapi3 builds the JSON schema of a route's header and query models on every request
(``flask_openapi3.request._validate_header`` and ``_validate_query`` look up each field's
type in it), and pydantic builds a model's schema anew each time it is asked. A sync call
paid about a millisecond per model for a schema that cannot change once its class exists.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

_SCHEMAS: dict[tuple[Any, ...], dict[str, Any]] = {}


class RequestParameters(BaseModel):
    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items())))
        try:
            schema = _SCHEMAS.get(key)
        except TypeError:  # an unhashable argument: build it as pydantic does
            return super().model_json_schema(*args, **kwargs)
        if schema is None:
            schema = _SCHEMAS[key] = super().model_json_schema(*args, **kwargs)
        return copy.deepcopy(schema)  # callers may change what they are given
