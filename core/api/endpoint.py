"""`@documented`: what an addon's own API route (one that is not a `Resource`) states about
itself, so that the OpenAPI document describes it like the toolkit's routes.

    @bp.post("/orders/<uuid:order_id>/receive")
    @require_permission("purchase.orders:receive")
    @documented(body=ReceiveIn, response=ReceiptOut, status=201)
    def receive(order_id): ...

The summary is the view's docstring's first line. Routes on `/api/v1` blueprints share the
API rate limit, and their writes run as one unit of work (with `Idempotency-Key` on POST)
whether documented or not; this only adds the description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from marshmallow import Schema

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class EndpointDoc:
    """The request and answer shapes of a custom API route."""

    body: type[Schema] | None = None
    response: type[Schema] | None = None
    many: bool = False
    query: type[Schema] | None = None
    status: int = 200
    paginated: bool = False


def documented(
    *,
    body: type[Schema] | None = None,
    response: type[Schema] | None = None,
    many: bool = False,
    query: type[Schema] | None = None,
    status: int = 200,
    paginated: bool = False,
) -> Callable[[F], F]:
    """Describe a custom API route for OpenAPI: body, answer (a list when `many`), query
    parameters, success status, and whether the answer carries page metadata."""

    def decorate(view: F) -> F:
        view.pergola_api_doc = EndpointDoc(  # type: ignore[attr-defined]
            body=body,
            response=response,
            many=many,
            query=query,
            status=status,
            paginated=paginated,
        )
        return view

    return decorate


def doc_of(view: Any) -> EndpointDoc | None:
    """The description `@documented` left on `view`, if any."""
    return getattr(view, "pergola_api_doc", None)
