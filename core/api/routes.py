"""What the kernel does for every route under `/api/`, toolkit resource or hand-written.

An addon's own API blueprint (and each of the kernel's) gets, at registration:

- the shared API rate limit (`core.api.limits.limit_api`);
- its write views (POST, PUT, PATCH, DELETE) wrapped as one unit of work: committed on a
  2xx answer, rolled back otherwise, and a POST honours `Idempotency-Key`
  (`core.api.idempotency.idempotent`). Public views (login, refresh, logout) get the unit
  of work without replay: an anonymous caller has no key space of its own, and their
  answers carry credentials that must not be stored to be handed out again.

Views already wrapped (the toolkit's, or one an addon decorated with `@idempotent`) are
left as they are.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask
from werkzeug.routing import Rule

from core.api.idempotency import idempotent, unit_of_work
from core.api.limits import limit_api

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
    for endpoint in sorted({r.endpoint for r in rules if (r.methods or set()) & WRITE_METHODS}):
        view = app.view_functions[endpoint]
        if getattr(view, "pergola_unit_of_work", False):
            continue
        # functools.wraps keeps the marks (permission, public, documentation) and the
        # qualified name Flask-Limiter finds a route's own limits by.
        wrap = unit_of_work if getattr(view, "pergola_public", False) else idempotent
        app.view_functions[endpoint] = wrap(view)


def adopt_all(app: Flask) -> None:
    """`adopt` every blueprint registered so far (the kernel's own, after the factory)."""
    for bp in list(app.blueprints.values()):
        adopt(app, cast(Blueprint, bp))
