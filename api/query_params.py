"""Unknown query parameters are refused, not ignored, on every native endpoint.

``GET …/faces?user_ids=obama`` (a typo) used to list every face. Each view's known names
are its query model's fields and aliases, ``callback_url`` (any job endpoint takes it),
and what the view declares with ``@accepts_query`` (a zip batch carries its options in
the query). The seed dialects keep accepting whatever their documents' clients send.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, get_type_hints

from flask import current_app, request
from pydantic import BaseModel

from api.errors import ApiError, ApiErrorCode

ALWAYS_ACCEPTED = frozenset({"callback_url"})
EXTRA_QUERY_ATTRIBUTE = "__facefleet_extra_query__"
View = TypeVar("View", bound=Callable[..., Any])
# Keyed by the view itself, weakly: an id() key outlives its app, and a later app's view that
# reuses the address would be judged by the dead view's names.
_known: weakref.WeakKeyDictionary[Callable[..., Any], frozenset[str]] = weakref.WeakKeyDictionary()


def accepts_query(*names: str) -> Callable[[View], View]:
    """Declare query parameters a view reads beyond its query model."""

    def mark(view: View) -> View:
        setattr(view, EXTRA_QUERY_ATTRIBUTE, frozenset(names))
        return view

    return mark


def query_names_of(view: Callable[..., Any]) -> frozenset[str]:
    cached = _known.get(view)
    if cached is not None:
        return cached
    names = set(ALWAYS_ACCEPTED) | set(getattr(view, EXTRA_QUERY_ATTRIBUTE, ()))
    original = inspect.unwrap(view)
    try:
        model = get_type_hints(original).get("query")
    except (NameError, TypeError):
        model = None
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, field in model.model_fields.items():
            names.add(name)
            if field.alias:
                names.add(field.alias)
    known = frozenset(names)
    _known[view] = known
    return known


def refuse_unknown_query_parameters() -> None:
    if not request.args or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return
    unknown = sorted(set(request.args) - query_names_of(view))
    if unknown:
        shown = ", ".join(repr(name[:64]) for name in unknown[:5])
        known = ", ".join(sorted(query_names_of(view))) or "none"
        raise ApiError(
            ApiErrorCode.INVALID_PARAMETER, f"unknown query parameter {shown} (this endpoint takes: {known})"
        )
