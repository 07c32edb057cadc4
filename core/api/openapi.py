"""OpenAPI 3 for the resources of the addons a tenant has enabled, built with apispec."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields
from sqlalchemy import inspect as sa_inspect

from core.api.query import MAX_PER_PAGE, OPERATORS, is_text
from core.api.resource import Action, Resource
from core.api.views import MAX_BULK

OPENAPI_VERSION = "3.0.3"
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
ERROR_STATUSES = {
    "400": "Malformed JSON",
    "401": "No valid credential (AUTHENTICATION_ERROR)",
    "403": "The caller lacks the permission (AUTHORIZATION_ERROR)",
    "404": "No such record, or the addon is not enabled (NOT_FOUND)",
    "413": "The body is too large (PAYLOAD_TOO_LARGE)",
    "415": "The body is not JSON (UNSUPPORTED_MEDIA_TYPE)",
    "422": "Invalid input; details name each field (VALIDATION_ERROR)",
    "429": "Too many requests; see Retry-After (RATE_LIMIT_ERROR)",
    "500": "Unexpected error; quote the request id (INTERNAL_ERROR)",
}
RATE_LIMIT_HEADERS = {
    "Retry-After": {
        "description": "Seconds to wait before the budget allows another request",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Limit": {
        "description": "Requests the caller's budget allows per window",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window (0 here)",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "When the window resets, in seconds since the Unix epoch",
        "schema": {"type": "integer"},
    },
}
WRITE_STATUSES = {
    "409": "Conflict with the current state, or a business rule said no (CONFLICT, ...)",
    "412": "If-Match names a stale version (PRECONDITION_FAILED)",
}


def _exact_decimal(converter: Any, field: fields.Field, ret: dict[str, Any], **_kw: Any) -> dict:
    """apispec attribute function: an `as_string` Decimal is a decimal string, or a number.

    apispec calls it for every field it converts, nested schemas (their components) included;
    it would write `type: number` with the bounds and default as strings, which no JSON
    Schema validator takes. `json_schema` narrows a top-level answer field to the string.
    """
    if isinstance(field, fields.Decimal) and field.as_string:
        for k in ("type", "minimum", "maximum", "default", "format"):
            ret.pop(k, None)
        ret["oneOf"] = [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "number"}]
    return {}


def _extended(schema: type[Schema], extra: dict[str, fields.Field]) -> type[Schema]:
    """`schema` with the `extra` fields added (a subclass under the same name)."""
    return schema.from_dict(dict(extra), name=schema.__name__)


def _camel(*parts: str) -> str:
    return "".join(p.title() for part in parts for p in part.replace("-", "_").split("_"))


class SpecBuilder:
    """Collects resources into one OpenAPI document."""

    def __init__(self, title: str = "Pergola API") -> None:
        self.plugin = MarshmallowPlugin()
        self.spec = APISpec(
            title=title,
            version="1",
            openapi_version=OPENAPI_VERSION,
            plugins=[self.plugin],
            info={
                "description": "The JSON API of the addons enabled for your tenant. Every "
                "answer is an envelope: success, data or error, meta."
            },
        )
        self.spec.components.security_scheme(
            "bearerAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "Access token from POST /api/v1/auth/login",
            },
        )
        self.spec.components.security_scheme(
            "apiKey",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (pgk_...) sent as the bearer token",
            },
        )
        assert self.plugin.converter is not None  # set when the plugin joined the spec
        self.plugin.converter.add_attribute_function(_exact_decimal)
        self._common_components()

    # --- components -------------------------------------------------------------------

    def _common_components(self) -> None:
        c = self.spec.components
        c.schema(
            "Meta",
            {
                "type": "object",
                "properties": {
                    "request_id": {"type": "string", "nullable": True},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "pagination": {
                        "type": "object",
                        "properties": {
                            "page": {"type": "integer"},
                            "per_page": {"type": "integer"},
                            "total": {"type": "integer"},
                            "total_pages": {"type": "integer"},
                            "next_cursor": {"type": "string", "nullable": True},
                        },
                    },
                },
                "required": ["request_id", "timestamp"],
            },
        )
        c.schema(
            "Error",
            {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean", "enum": [False]},
                    "error": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string", "example": "VALIDATION_ERROR"},
                            "message": {"type": "string"},
                            "details": {"type": "object", "additionalProperties": True},
                            "items": {
                                "type": "array",
                                "description": "A refused bulk create: each refused item",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "index": {"type": "integer"},
                                        "code": {"type": "string"},
                                        "message": {"type": "string"},
                                        "details": {
                                            "type": "object",
                                            "nullable": True,
                                            "additionalProperties": True,
                                        },
                                    },
                                },
                            },
                        },
                        "required": ["code", "message"],
                    },
                    "meta": {"$ref": "#/components/schemas/Meta"},
                },
                "required": ["success", "error", "meta"],
            },
        )
        c.schema(
            "Deleted",
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "deleted": {"type": "boolean"},
                },
            },
        )
        for status, text in {**ERROR_STATUSES, **WRITE_STATUSES}.items():
            answer: dict[str, Any] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            if status == "429":
                answer["headers"] = RATE_LIMIT_HEADERS
            c.response(f"E{status}", answer)

    def json_schema(
        self, schema: type[Schema], *, output: bool, partial: bool = False
    ) -> dict[str, Any]:
        """`schema` as JSON Schema: for answers (every field optional: `fields=` may drop
        any) or for requests (no read-only fields)."""
        converter = self.plugin.converter
        assert converter is not None  # set when the plugin joined the spec
        converted: dict[str, Any] = copy.deepcopy(converter.schema2jsonschema(schema))
        props = converted.get("properties", {})
        for name, field in schema().fields.items():
            prop = props.get(field.data_key or name)
            if prop is None:
                continue
            if isinstance(field, fields.Decimal) and field.as_string and output:
                # Exact decimals travel as strings (requests may send a number too: the
                # `oneOf` that `_exact_decimal` wrote, which nested schemas keep for both).
                prop.pop("oneOf", None)
                prop.update(type="string", pattern=DECIMAL_PATTERN)
            if not output and (prop.get("readOnly") or field.dump_only):
                props.pop(field.data_key or name)
        if output:
            converted.pop("required", None)
            for name, field in schema().fields.items():
                if field.load_only:
                    props.pop(field.data_key or name, None)
        elif partial:
            converted.pop("required", None)
        return converted

    def _component(self, name: str, body: dict[str, Any]) -> dict[str, str]:
        if name not in self.spec.components.schemas:
            self.spec.components.schema(name, body)
        return {"$ref": f"#/components/schemas/{name}"}

    # --- paths ------------------------------------------------------------------------

    def add_resource(self, addon: str, r: Resource) -> None:
        """The paths and schemas of one resource."""
        # Query parameters (fields=, filters) take only the resource's own fields.
        declared = r
        extra = dict(r.extra_fields() or {}) if r.extra_fields else {}
        if extra:
            # The fields the tenant's enabled addons add: on the record and in the bodies.
            r = dataclasses.replace(
                r,
                schema=_extended(r.schema, extra),
                create_schema=_extended(r.input_create, extra),
                update_schema=_extended(r.input_update, extra),
            )
        base = _camel(addon, r.name)
        item = self.json_schema(r.schema, output=True)
        for rel, rel_schema in r.expandable.items():
            nested = self._component(
                f"{base}{_camel(rel)}", self.json_schema(rel_schema, output=True)
            )
            many: bool = bool(sa_inspect(r.model).relationships[rel].uselist)
            item["properties"][rel] = (
                {"type": "array", "items": nested} if many else {**nested, "nullable": True}
            )
        item_ref = self._component(base, item)
        tag = f"{addon}: {r.name}"
        self.spec.tag({"name": tag, "description": r.summary or r.name})
        path = f"/api/v1/{addon}/{r.name}"
        record = f"{path}/{{id}}"
        id_param = {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        one = self._envelope(item_ref)
        etag_header = {
            "ETag": {
                "description": "The record's version, for If-Match",
                "schema": {"type": "string"},
            }
        }
        if_match = {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The ETag you read; a stale one answers 412",
        }
        idem = {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": r"^[\x21-\x7e]+$",
            },
            "description": "Retrying with the same key and body replays the first answer",
        }
        collection_ops: dict[str, Any] = {
            "get": self._op(
                tag,
                f"List {r.name}",
                r.permission("read"),
                {
                    "200": self._ok(
                        "The page of records",
                        self._envelope({"type": "array", "items": item_ref}),
                    )
                },
                parameters=self._list_params(declared),
            )
        }
        record_ops: dict[str, Any] = {
            "get": self._op(
                tag,
                f"One of {r.name}",
                r.permission("read"),
                {"200": self._ok("The record", one, etag_header)},
                parameters=self._read_params(declared),
            )
        }
        if not r.read_only:
            self._add_writes(
                r,
                base,
                tag,
                path,
                item_ref,
                one,
                [etag_header, if_match, idem],
                collection_ops,
                record_ops,
            )
        self.spec.path(path=path, operations=collection_ops)
        self.spec.path(path=record, parameters=[id_param], operations=record_ops)
        for action in r.actions:
            self._add_action(addon, r, action, tag, record, id_param, one, [if_match, idem])

    def _add_writes(
        self,
        r: Resource,
        base: str,
        tag: str,
        path: str,
        item_ref: dict[str, Any],
        one: dict[str, Any],
        headers: list[dict[str, Any]],
        collection_ops: dict[str, Any],
        record_ops: dict[str, Any],
    ) -> None:
        """Create, bulk, replace, change and delete: every resource but a read-only one."""
        etag_header, if_match, idem = headers
        create_ref = self._component(
            f"{base}Create", self.json_schema(r.input_create, output=False)
        )
        patch_ref = self._component(
            f"{base}Patch", self.json_schema(r.input_update, output=False, partial=True)
        )
        collection_ops["post"] = self._op(
            tag,
            f"Create one of {r.name}",
            r.permission("create"),
            {"201": self._ok("Created", one, etag_header)},
            write=True,
            body=create_ref,
            parameters=[idem],
        )
        bulk_body = {
            "type": "object",
            "additionalProperties": False,
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": create_ref, "minItems": 1, "maxItems": MAX_BULK}
            },
        }
        self.spec.path(
            path=f"{path}/bulk",
            operations={
                "post": self._op(
                    tag,
                    f"Create up to {MAX_BULK} {r.name}, all or nothing",
                    r.permission("create"),
                    {
                        "201": self._ok(
                            "All created", self._envelope({"type": "array", "items": item_ref})
                        )
                    },
                    write=True,
                    body=bulk_body,
                    parameters=[idem],
                ),
            },
        )
        record_ops["put"] = self._op(
            tag,
            "Replace every field",
            r.permission("update"),
            {"200": self._ok("Updated", one, etag_header)},
            write=True,
            body=create_ref,
            parameters=[if_match],
        )
        record_ops["patch"] = self._op(
            tag,
            "Change the given fields",
            r.permission("update"),
            {"200": self._ok("Updated", one, etag_header)},
            write=True,
            body=patch_ref,
            parameters=[if_match],
        )
        record_ops["delete"] = self._op(
            tag,
            "Delete (soft when the model keeps deleted rows)",
            r.permission("delete"),
            {"200": self._ok("Deleted", self._envelope({"$ref": "#/components/schemas/Deleted"}))},
            write=True,
            parameters=[if_match],
        )

    def _add_action(
        self,
        addon: str,
        r: Resource,
        action: Action,
        tag: str,
        record: str,
        id_param: dict[str, Any],
        one: dict[str, Any],
        params: list[dict[str, Any]],
    ) -> None:
        body = None
        if action.schema is not None:
            body = self._component(
                f"{_camel(addon, r.name, action.name)}Input",
                self.json_schema(action.schema, output=False),
            )
        self.spec.path(
            path=f"{record}/{action.name}",
            parameters=[id_param],
            operations={
                "post": self._op(
                    tag,
                    action.summary or action.name,
                    action.permission,
                    {str(action.status): self._ok("Done", self._envelope({}))},
                    write=True,
                    body=body,
                    parameters=params,
                    body_required=body is not None,
                ),
            },
        )

    @staticmethod
    def _envelope(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["success", "data", "meta"],
            "properties": {
                "success": {"type": "boolean", "enum": [True]},
                "data": data,
                "meta": {"$ref": "#/components/schemas/Meta"},
            },
        }

    @staticmethod
    def _ok(
        text: str, schema: dict[str, Any], headers: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "description": text,
            "content": {"application/json": {"schema": schema}},
        }
        if headers:
            answer["headers"] = headers
        return answer

    @staticmethod
    def _op(
        tag: str,
        summary: str,
        permission: str,
        answers: dict[str, Any],
        *,
        write: bool = False,
        body: dict[str, Any] | None = None,
        parameters: list[dict[str, Any]] | None = None,
        body_required: bool = True,
    ) -> dict[str, Any]:
        responses = dict(answers)
        statuses = {**ERROR_STATUSES, **(WRITE_STATUSES if write else {})}
        for status in statuses:
            responses[status] = {"$ref": f"#/components/responses/E{status}"}
        op: dict[str, Any] = {
            "tags": [tag],
            "summary": summary,
            "description": f"Needs permission `{permission}`.",
            "security": [{"bearerAuth": []}, {"apiKey": []}],
            "responses": responses,
        }
        if parameters:
            op["parameters"] = parameters
        if body is not None:
            op["requestBody"] = {
                "required": body_required,
                "content": {"application/json": {"schema": body}},
            }
        return op

    def _field_schema(self, r: Resource, name: str) -> dict[str, Any]:
        prop = dict(
            self.json_schema(r.schema, output=True)["properties"].get(name, {"type": "string"})
        )
        prop.pop("readOnly", None)
        prop.pop("default", None)
        prop.pop("nullable", None)
        return prop

    def _read_params(self, r: Resource) -> list[dict[str, Any]]:
        names = sorted(self.json_schema(r.schema, output=True)["properties"])
        params = [
            {
                "name": "fields",
                "in": "query",
                "required": False,
                "description": f"Comma-separated subset of: {', '.join(names)}",
                "schema": {"type": "string"},
            }
        ]
        if r.expandable:
            params.append(
                {
                    "name": "expand",
                    "in": "query",
                    "required": False,
                    "description": f"Relations to embed: {', '.join(r.expandable)}",
                    "schema": {"type": "string"},
                }
            )
        return params

    def _list_params(self, r: Resource) -> list[dict[str, Any]]:
        sortable = sorted({*r.sortable, *r.default_sort, "id"} - {""})
        params: list[dict[str, Any]] = [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 25},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "Walk with cursors: empty for the first page, then next_cursor",
                "schema": {"type": "string"},
            },
            {
                "name": "sort",
                "in": "query",
                "required": False,
                "description": f"Comma-separated, '-' for descending: {', '.join(sortable)}",
                "schema": {"type": "string"},
            },
            *self._read_params(r),
        ]
        if r.has_search:
            where = ", ".join(r.searchable) if r.search is None else "the resource's search"
            params.append(
                {
                    "name": "q",
                    "in": "query",
                    "required": False,
                    "description": f"Text search ({where})",
                    "schema": {"type": "string"},
                }
            )
        for name in r.filterable:
            field_schema = self._field_schema(r, name)
            for op in OPERATORS:
                if op == "contains" and not is_text(r, name):
                    continue
                if op in ("lt", "lte", "gt", "gte") and field_schema.get("type") == "boolean":
                    continue  # refused with 422: yes/no has no order
                schema = {"type": "string"} if op in ("in", "contains") else field_schema
                params.append(
                    {
                        "name": f"filter[{name}][{op}]",
                        "in": "query",
                        "required": False,
                        "schema": schema,
                    }
                )
        return params

    def to_dict(self) -> dict[str, Any]:
        """The document."""
        return self.spec.to_dict()


def build_document(resources: list[tuple[str, Resource]]) -> dict[str, Any]:
    """The OpenAPI document for (addon, resource) pairs."""
    builder = SpecBuilder()
    for addon, resource in resources:
        builder.add_resource(addon, resource)
    return builder.to_dict()
