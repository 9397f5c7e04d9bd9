"""Every response the API tests see is checked against the schema that /v1/openapi.json
declares for its operation and status, so the document cannot drift from what is sent.

Job results are included: a job's ``result`` is declared as the union of the result
models, which forbid undeclared keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse


@dataclass
class ResponseSchemas:
    document: dict[str, Any]
    _routes: list[tuple[re.Pattern[str], dict[str, Any]]] = field(default_factory=list)
    checked: int = 0

    def __post_init__(self) -> None:
        for template, operations in self.document["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), operations))

    @classmethod
    def of_app(cls, app: Any) -> ResponseSchemas:
        return cls(app.test_client().get("/v1/openapi.json").get_json())

    def schema_for(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        path = path.split("?", 1)[0]
        for pattern, operations in self._routes:
            if pattern.match(path):
                operation = operations.get(method.lower())
                if operation is None:
                    return None
                declared = operation.get("responses", {}).get(str(status))
                if declared is None:
                    raise AssertionError(f"{method} {path} answered {status}, which its operation does not declare")
                return declared.get("content", {}).get("application/json", {}).get("schema")
        return None

    def check(self, method: str, path: str, response: TestResponse) -> None:
        schema = self.schema_for(method, path, response.status_code)
        if schema is None or response.mimetype != "application/json":
            return
        validator = Draft202012Validator({**schema, "components": self.document.get("components", {})})
        errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.path))
        assert not errors, (
            f"{method} {path} {response.status_code}: the body does not match its declared schema: "
            + "; ".join(f"{list(e.path)}: {e.message}"[:300] for e in errors[:5])
        )
        self.checked += 1
