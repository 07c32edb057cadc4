"""What the kernel does for every route under `/api/`, toolkit resource or hand-written.

An addon's own API blueprint (and each of the kernel's) gets, at registration:

- the shared API rate limit (`core.api.limits.limit_api`);
- its write views (POST, PUT, PATCH, DELETE) wrapped as one unit of work: committed on a
  2xx answer, rolled back otherwise, and a POST honours `Idempotency-Key`
  (`core.api.idempotency.idempotent`). Public views (login, refresh, logout) get the unit
  of work without replay: an anonymous caller has no key space of its own, and their
  answers carry credentials that must not be stored to be handed out again.

Views already wrapped (the toolkit's, or one an addon decorated with `@idempotent`) are
left as they are. Every view of such a blueprint also refuses NUL characters in its path,
query and JSON body with a 422 naming the field, as the toolkit does (PostgreSQL cannot
store them; without this a stray `\u0000` would reach the database and answer 500).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Flask, request
from werkzeug.routing import Rule

from core.api.body import _nul_path
from core.api.idempotency import idempotent, unit_of_work
from core.api.limits import limit_api
from core.errors import ValidationError

API_PREFIX = "/api/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def api_rules(app: Flask, blueprint: str) -> list[Rule]:
    """The rules of registered blueprint `blueprint` that live under `/api/`."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(f"{blueprint}.") and rule.rule.startswith(API_PREFIX)
    ]


def adopt(app: Flask, bp: Blueprint) -> None:
    """Give a registered blueprint's `/api/` routes the API's rate limit and unit of work."""
    rules = api_rules(app, bp.name)
    if not rules:
        return
    limit_api(bp)
    if getattr(bp, "pergola_resources", None) is not None:
        return  # the toolkit's views manage their own transactions
    writes = {r.endpoint for r in rules if (r.methods or set()) & WRITE_METHODS}
    for endpoint in sorted({r.endpoint for r in rules}):
        view = app.view_functions[endpoint]
        # functools.wraps keeps the marks (permission, public, documentation) and the
        # qualified name Flask-Limiter finds a route's own limits by.
        if endpoint in writes and not getattr(view, "pergola_unit_of_work", False):
            wrap = unit_of_work if getattr(view, "pergola_public", False) else idempotent
            view = wrap(view)
        if not getattr(view, "pergola_refuses_nul", False):
            view = refuse_nul(view)
        app.view_functions[endpoint] = view


def _nul_in_request(path_args: dict[str, Any]) -> str | None:
    """The name of the first path argument, query parameter or JSON field holding a NUL."""
    for name, value in path_args.items():
        if isinstance(value, str) and "\x00" in value:
            return name
    for key in request.args:
        if "\x00" in key or any("\x00" in v for v in request.args.getlist(key)):
            return key.replace("\x00", "") or "query"
    if request.mimetype == "application/json":
        raw = request.get_data(cache=True)
        if b"\\u0000" in raw or b"\x00" in raw:
            try:
                data = json.loads(raw)
            except ValueError:
                return None  # the view answers for broken JSON
            where = _nul_path(data, "")
            if where is not None:
                return where or "body"
    return None


def refuse_nul(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an API view: a NUL character in its path, query or JSON body is a 422."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        where = _nul_in_request(kwargs)
        if where is not None:
            raise ValidationError("text must not contain NUL (\\u0000) characters", field=where)
        return view(*args, **kwargs)

    wrapper.pergola_refuses_nul = True  # type: ignore[attr-defined]
    return wrapper


def adopt_all(app: Flask) -> None:
    """`adopt` every blueprint registered so far (the kernel's own, after the factory)."""
    for bp in list(app.blueprints.values()):
        adopt(app, cast(Blueprint, bp))
