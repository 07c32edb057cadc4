"""OpenAPI operations for hand-written API routes (an addon's own, the kernel's), from the
view's marks: its docstring, its permission, and what `@documented` says about it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.routing import Rule

from core.api.endpoint import EndpointDoc, doc_of
from core.api.openapi import ERROR_STATUSES, WRITE_STATUSES, SpecBuilder, _camel

KERNEL_TAG = "kernel"
WRITE_METHODS = ("post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTERS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "path": {"type": "string"},
    "default": {"type": "string", "pattern": "^[^/]+$"},
    "string": {"type": "string", "pattern": "^[^/]+$"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"},
    "description": "Retrying with the same key and body replays the first answer",
}


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """A Werkzeug rule as an OpenAPI path template, with its typed path parameters."""
    params = []
    for match in _PARAM.finditer(rule):
        converter = match.group("converter") or "default"
        params.append(
            {
                "name": match.group("name"),
                "in": "path",
                "required": True,
                "schema": dict(_CONVERTERS.get(converter, {"type": "string"})),
            }
        )
    return _PARAM.sub(lambda m: "{" + m.group("name") + "}", rule), params


def _summary(view: Callable[..., Any]) -> str:
    lines = (view.__doc__ or "").strip().splitlines()
    return lines[0].strip() if lines else view.__name__.replace("_", " ")


class RouteDocs:
    """Adds hand-written routes to a `SpecBuilder`'s document."""

    def __init__(self, builder: SpecBuilder) -> None:
        self.builder = builder
        self._tags: set[str] = set()

    def add(self, tag: str, rules: Iterable[tuple[Rule, Callable[..., Any]]]) -> None:
        """Describe `rules` (each with its view) under `tag`: the addon, or `kernel`."""
        by_path: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
        for rule, view in sorted(rules, key=lambda pair: pair[0].rule):
            path, params = openapi_path(rule.rule)
            operations = by_path.setdefault(path, (params, {}))[1]
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                operations[method.lower()] = self._operation(tag, rule, method.lower(), view)
        if by_path and tag not in self._tags:
            self._tags.add(tag)
            self.builder.spec.tag(
                {"name": tag, "description": "The kernel's routes" if tag == KERNEL_TAG else tag}
            )
        for path, (params, operations) in by_path.items():
            self.builder.spec.path(path=path, parameters=params or None, operations=operations)

    def _operation(
        self, tag: str, rule: Rule, method: str, view: Callable[..., Any]
    ) -> dict[str, Any]:
        doc = doc_of(view) or EndpointDoc()
        documented = doc_of(view) is not None
        write = method in WRITE_METHODS
        public = bool(getattr(view, "pergola_public", False))
        permission = getattr(view, "pergola_permission", None)
        if public:
            description = "Public: no credential needed."
        elif permission == "authenticated":
            description = "Any logged-in caller."
        else:
            description = f"Needs permission `{permission}`."
        name = _camel(tag, rule.endpoint.rsplit(".", 1)[-1])
        op: dict[str, Any] = {
            "tags": [tag],
            "summary": _summary(view),
            "description": description,
            "security": [] if public else [{"bearerAuth": []}, {"apiKey": []}],
            "responses": self._responses(tag, doc, documented, write),
        }
        if permission and not public:
            op["x-permission"] = permission
        parameters = self._query(doc)
        if method == "post" and not public:
            parameters.append(IDEMPOTENCY_KEY)
        if parameters:
            op["parameters"] = parameters
        if write and doc.body is not None:
            schema = self.builder.json_schema(doc.body, output=False)
            ref = self._component(f"{name}Input", schema)
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
        elif write and not documented and method != "delete":
            op["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        return op

    def _component(self, name: str, body: dict[str, Any]) -> dict[str, str]:
        return self.builder._component(name, body)

    def _query(self, doc: EndpointDoc) -> list[dict[str, Any]]:
        if doc.query is None:
            return []
        schema = self.builder.json_schema(doc.query, output=False)
        required = set(schema.get("required", []))
        return [
            {"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in schema.get("properties", {}).items()
        ]

    def _responses(
        self, tag: str, doc: EndpointDoc, documented: bool, write: bool
    ) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if doc.response is not None:
            item = self._component(
                f"{_camel(tag)}{doc.response.__name__}",
                self.builder.json_schema(doc.response, output=True),
            )
            data = {"type": "array", "items": item} if doc.many else item
        envelope = self.builder._envelope(data)
        if doc.paginated:
            envelope["properties"]["meta"] = {
                "allOf": [
                    {"$ref": "#/components/schemas/Meta"},
                    {"type": "object", "required": ["pagination"]},
                ]
            }
        status = str(doc.status) if documented else "2XX"
        responses: dict[str, Any] = {
            status: {
                "description": "Done",
                "content": {"application/json": {"schema": envelope}},
            }
        }
        # A business rule may refuse any hand-written route: 409 (or its own code) too.
        statuses = {**ERROR_STATUSES, "409": WRITE_STATUSES["409"]}
        if write:
            statuses.update(WRITE_STATUSES)
        for code in statuses:
            responses[code] = {"$ref": f"#/components/responses/E{code}"}
        return responses
