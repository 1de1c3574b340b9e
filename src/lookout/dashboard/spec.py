"""The pieces every view module's OpenAPI paths are built from: parameters, schemas, errors.

Each view module documents its own routes in an ``openapi_paths()`` function built with these
helpers, and :mod:`lookout.dashboard.openapi` merges them into one document. The schemas are
meant to be exact (a schemathesis run in tests/dashboard/test_openapi.py checks every answer
against them), so a view that changes its answer changes its schema in the same module.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
ANY: Schema = {}
#: Text a client may send: anything but NUL, which every route refuses (400).
TEXT: Schema = {"type": "string", "pattern": "^[^\\u0000]*$"}
NUMBER_OR_NULL: Schema = {"type": ["number", "null"]}


def text(max_length: int, *, min_length: int = 1) -> Schema:
    """Text a parameter accepts: the view's own length bounds, and no NUL."""
    return {**TEXT, "minLength": min_length, "maxLength": max_length}


def integer(minimum: int, maximum: int) -> Schema:
    """An integer parameter within the bounds its view checks (both inclusive)."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def number(minimum: float, below: float) -> Schema:
    """A number parameter from ``minimum`` up to, not including, ``below``."""
    return {"type": "number", "minimum": minimum, "exclusiveMaximum": below}


INTEGER_OR_NULL: Schema = {"type": ["integer", "null"]}
STRING_OR_NULL: Schema = {"type": ["string", "null"]}


def obj(
    properties: dict[str, Schema], *, optional: tuple[str, ...] = (), more: bool = False
) -> Schema:
    """An object with exactly ``properties`` (all required unless ``optional``); ``more``
    allows further properties (free-form details)."""
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": more,
    }


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


ERROR: Schema = obj({"error": STRING, "status": INTEGER})
#: A profiler call tree's node (recursive: a reference to the document's components).
CALL_NODE: Schema = {"$ref": "#/components/schemas/CallNode"}
#: Schemas that paths refer to by ``$ref``.
COMPONENT_SCHEMAS: dict[str, Schema] = {
    "CallNode": obj(
        {
            "frame": STRING,
            "file": STRING_OR_NULL,
            "function": STRING,
            # the time the function spent at each line (callees included), and its code
            "lines": array(
                obj(
                    {
                        "line": INTEGER,
                        "ms": {"type": "number", "minimum": 0},
                        "code": STRING_OR_NULL,
                    }
                )
            ),
            "total_ms": {"type": "number", "minimum": 0},
            "self_ms": {"type": "number", "minimum": 0},
            "samples": {"type": "integer", "minimum": 0},
            "children": array(CALL_NODE),
        }
    ),
}
RANGES = ["1h", "6h", "24h", "7d", "30d"]
KINDS = ["request", "call", "run", "metric"]


def query(name: str, schema: Schema, description: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        found["description"] = description
    return found


def path_param(name: str, schema: Schema, description: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        found["description"] = description
    return found


RANGE = query("range", {"type": "string", "enum": RANGES}, "How far back to look.")
#: A name in a URL: any text but an empty, ``.`` or ``..`` segment (which no URL can carry).
NAME_PARAMS = [
    path_param("kind", {"type": "string", "enum": KINDS}),
    path_param(
        "name",
        {**TEXT, "minLength": 1, "not": {"enum": [".", ".."]}},
        "The endpoint, function, job or metric name.",
    ),
]

_ERROR_TEXT = {
    "400": "An unknown parameter, an invalid value or body (the message says which).",
    "401": "Not logged in and no valid token.",
    "403": "Not allowed for this role, or a missing CSRF token.",
    "404": "No such thing (the message says what).",
    "413": "The request body is larger than the dashboard accepts.",
    "503": "This Lookout has no store to show.",
}


def errors(*codes: str) -> dict[str, Any]:
    """Error answers, each ``{"error": message, "status": code}``; 400, 401, 413 and 503 are
    possible on every route, ``codes`` adds others (403, 404)."""
    found = {}
    for code in sorted({"400", "401", "413", "503", *codes}):
        found[code] = {
            "description": _ERROR_TEXT[code],
            "content": {"application/json": {"schema": ERROR}},
        }
    return found


def json_body(schema: Schema) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def operation(
    summary: str,
    answer: Schema,
    *,
    params: list[dict[str, Any]] | None = None,
    body: Schema | None = None,
    error_codes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One operation: its parameters, its 200 answer's schema and its error answers."""
    found: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
            **errors(*error_codes),
        },
    }
    if body is not None:
        found["requestBody"] = json_body(body)
    return found
