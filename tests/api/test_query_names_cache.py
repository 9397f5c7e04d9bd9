"""The known query names of a view are remembered per view object, never per address: a
test run (or a process that rebuilds its app) creates many apps, and a new view that lands
at a dead view's address must not be judged by the dead view's names. Keyed by id(), the
console's job list refused its own ``limit`` after earlier tests' apps had gone."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from api.query_params import query_names_of


class PagedQuery(BaseModel):
    limit: int = 50
    cursor: str | None = None


class SearchQuery(BaseModel):
    user_id: str | None = None


def paged_view(query: PagedQuery) -> None: ...


def make_view_without_query() -> Callable[..., Any]:
    def view() -> None: ...

    return view


def make_paged_view() -> Callable[..., Any]:
    def view(query: PagedQuery) -> None: ...

    return view


def test_a_view_is_judged_by_its_own_query_model() -> None:
    assert {"limit", "cursor", "callback_url"} <= query_names_of(paged_view)
    assert "user_id" not in query_names_of(paged_view)


def test_a_view_at_a_dead_views_address_gets_its_own_names() -> None:
    # CPython reuses a freed function's address for the next one of the same size, so
    # alternating creates and frees hits the reuse that an id()-keyed cache got wrong.
    for _ in range(50):
        old = make_view_without_query()
        assert "limit" not in query_names_of(old)
        del old
        gc.collect()
        new = make_paged_view()
        assert {"limit", "cursor"} <= query_names_of(new)
        del new
        gc.collect()
