"""The chatbot server's HTTP contract: its error codes, its OpenAPI 3.1 document, a docs page.

``ERRORS`` is the one table of error codes (``hf_tools.serve`` raises only these, a
test holds docs/server.md and the server's docstring to it); ``OPERATIONS`` describes every route
the server has (a test holds the app's routes to it), and ``openapi`` builds the document
served at ``/openapi.json`` from both. ``docs_page`` renders that document as plain HTML for
``/docs``: no script, no CDN.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ERRORS", "OPERATIONS", "Operation", "docs_page", "openapi"]


@dataclass(frozen=True)
class ErrorCode:
    """One stable ``code``: the HTTP status it comes with (None: SSE ``error`` events only)."""

    status: int | None
    meaning: str


ERRORS: dict[str, ErrorCode] = {
    "invalid_json": ErrorCode(400, "the body is not valid JSON"),
    "invalid_body": ErrorCode(400, "the body is not a JSON object"),
    "invalid_message": ErrorCode(400, '"message" is missing, not text, or blank'),
    "invalid_stream": ErrorCode(400, '"stream" is not a JSON boolean'),
    "invalid_session_id": ErrorCode(400, "the session id is not 1-64 of A-Z a-z 0-9 - _"),
    "invalid_artifact_id": ErrorCode(400, "the artifact id is not 1-64 of A-Z a-z 0-9 - _"),
    "invalid_after": ErrorCode(400, "`after` / `Last-Event-ID` is not a whole number >= 0"),
    "missing_api_key": ErrorCode(401, "no `Authorization: Bearer <key>` header"),
    "invalid_api_key": ErrorCode(401, "the key is not one of the server's"),
    "host_not_allowed": ErrorCode(403, "the Host header is not the server's (DNS rebinding)"),
    "origin_not_allowed": ErrorCode(403, "the Origin is neither the server's nor allowed"),
    "cross_site": ErrorCode(403, "a browser marked the request cross-site or same-site"),
    "not_found": ErrorCode(404, "no such route"),
    "session_not_found": ErrorCode(404, "this key has no such session"),
    "artifact_not_found": ErrorCode(404, "this key's session has no such artifact"),
    "method_not_allowed": ErrorCode(405, "the route does not take this method"),
    "session_busy": ErrorCode(409, "another turn of the session ran past the turn wait"),
    "message_too_long": ErrorCode(413, "the message is over the server's character limit"),
    "body_too_large": ErrorCode(413, "the body is over 4 x the message limit (+1 KiB)"),
    "unsupported_media_type": ErrorCode(415, "a POST body is not `application/json`"),
    "too_many_sessions": ErrorCode(
        429, "this key keeps its most conversations (delete one), or all are busy"
    ),
    "server_full": ErrorCode(429, "the server keeps its most conversations, or holds its most"),
    "too_many_streams": ErrorCode(429, "this key already runs its most turns at once"),
    "server_busy": ErrorCode(429, "the server already runs its most turns at once"),
    "internal_error": ErrorCode(500, "a bug: the server logged it under the request id"),
    "agent_failed": ErrorCode(502, "the model, a tool or the store failed; nothing was recorded"),
    "too_many_connections": ErrorCode(
        503, "every connection the server holds is inside a request (before any route)"
    ),
    "turn_interrupted": ErrorCode(None, "the turn's replica stopped mid-turn: send it again"),
}

# The refusals every route may answer before it runs (the guard's), and every keyed route's.
_GUARD = ("host_not_allowed", "origin_not_allowed", "cross_site", "internal_error")
_KEYED = ("missing_api_key", "invalid_api_key")


@dataclass(frozen=True)
class Operation:
    """One route and method, as the OpenAPI document describes it."""

    method: str
    path: str
    summary: str
    ok: int
    ok_body: dict[str, Any]  # the success response's content (or {} for none)
    errors: tuple[str, ...] = ()
    body: str | None = None  # a schema in components, for a JSON request body
    parameters: tuple[dict[str, Any], ...] = ()
    public: bool = False  # served without an API key
    ok_headers: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def error_codes(self) -> tuple[str, ...]:
        """Every code this operation may answer with a status, the guard's included."""
        codes = [*_GUARD, *(() if self.public else _KEYED), *self.errors]
        if self.method == "POST":
            codes.append("unsupported_media_type")
        return tuple(c for c in dict.fromkeys(codes) if ERRORS[c].status is not None)


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


_SESSION = {
    "name": "session_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}
_ARTIFACT = {**_SESSION, "name": "artifact_id"}
_SSE = {
    "text/event-stream": {
        "schema": {"type": "string"},
        "x-events": {
            name: {"$ref": f"#/components/schemas/{schema}"}
            for name, schema in [
                ("token", "TokenEvent"),
                ("tool_start", "ToolStartEvent"),
                ("tool_end", "ToolEndEvent"),
                ("final", "FinalEvent"),
                ("error", "ErrorEvent"),
            ]
        },
    }
}
_SSE_TEXT = (
    "Server-Sent Events: each event has an `id:` (increasing per session, the same on every"
    " replica), an `event:` name (`token`, `tool_start`, `tool_end`, then `final` or `error`"
    " last) and one JSON object as `data:`; a `: ping` comment comes every heartbeat interval"
    " while the turn runs. Reconnect with `GET /sessions/{session_id}/events` and"
    " `Last-Event-ID` to get the rest."
)
_STREAM_LIMITS = ("too_many_streams", "server_busy")  # turns and resumed streams at once
_TURN_ERRORS = ("invalid_session_id", "too_many_sessions", "server_full", *_STREAM_LIMITS)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/health",
        "Liveness, and the sessions this replica holds in memory",
        200,
        _json("Health"),
        public=True,
    ),
    Operation("GET", "/openapi.json", "This document", 200, {"application/json": {}}, public=True),
    Operation("GET", "/docs", "This document as a web page", 200, {"text/html": {}}, public=True),
    Operation(
        "GET",
        "/",
        "The web chat page (its script, style and icon are under /web/); it asks for the key",
        200,
        {"text/html": {}},
        public=True,
    ),
    Operation(
        "POST",
        "/sessions",
        "Create an empty session owned by the caller's key; the id is the server's",
        201,
        _json("NewSession"),
        ("too_many_sessions", "server_full"),
    ),
    Operation(
        "GET",
        "/sessions/{session_id}",
        "The conversation: role and text of each message (never the system prompt), tool"
        " messages with the artifacts their tool produced",
        200,
        _json("History"),
        ("invalid_session_id", "session_not_found"),
        parameters=(_SESSION,),
    ),
    Operation(
        "DELETE",
        "/sessions/{session_id}",
        "Forget the session, its events and its artifacts (after its running turn)",
        204,
        {},
        ("invalid_session_id", "session_not_found", "session_busy"),
        parameters=(_SESSION,),
    ),
    Operation(
        "POST",
        "/sessions/{session_id}/messages",
        "Run one turn: the agent answers the message with the session's history",
        200,
        {**_json("TurnResult"), **_SSE},
        (
            "invalid_json",
            "invalid_body",
            "invalid_message",
            "invalid_stream",
            "message_too_long",
            "body_too_large",
            *_TURN_ERRORS,
            "session_busy",
            "agent_failed",
        ),
        body="MessageRequest",
        parameters=(_SESSION,),
        description=(
            'JSON by default; with `"stream": true`, ' + _SSE_TEXT + " A failed turn is a 502"
            " (JSON) or an `error` event (SSE); either way nothing of it is recorded."
        ),
    ),
    Operation(
        "GET",
        "/sessions/{session_id}/events",
        "Resume a turn's event stream; never starts a turn",
        200,
        _SSE,
        ("invalid_session_id", "invalid_after", "session_not_found", *_STREAM_LIMITS),
        parameters=(
            _SESSION,
            {
                "name": "after",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
                "description": "the last event id the client has (default: Last-Event-ID, 0)",
            },
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "what EventSource sends on reconnect; `after` wins",
            },
        ),
        description=(
            "Replays the stored events after `after`, then, while the session's turn runs (on"
            " any replica), follows its new events until the terminal one. A turn whose"
            " replica stopped mid-turn ends with an `error` event of code `turn_interrupted`:"
            " send the message again. " + _SSE_TEXT
        ),
    ),
    Operation(
        "GET",
        "/sessions/{session_id}/artifacts/{artifact_id}",
        "The bytes of an image, mask or audio a tool produced, with their content type",
        200,
        {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        ("invalid_session_id", "invalid_artifact_id", "artifact_not_found"),
        parameters=(_SESSION, _ARTIFACT),
        ok_headers={
            "X-Content-Type-Options": {"schema": {"const": "nosniff"}},
            "Content-Disposition": {"schema": {"type": "string"}},
        },
    ),
)

_STR = {"type": "string"}
_INT = {"type": "integer"}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_ARTIFACT_REF = _object(
    ["id", "tool", "type", "content_type", "url"],
    id=_STR,
    tool={**_STR, "description": "the tool that produced it"},
    type={**_STR, "description": "what it is: image, mask, audio, video, ..."},
    content_type={**_STR, "description": "its MIME type"},
    url={**_STR, "description": "/sessions/{session_id}/artifacts/{artifact_id}"},
)
_ARTIFACTS = {"type": "array", "items": {"$ref": "#/components/schemas/ArtifactRef"}}


def _event(kind: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return _object(["type", *required], type={"const": kind}, **properties)


def _schemas(max_message_chars: int) -> dict[str, Any]:
    stopped = {"enum": ["answer", "max_steps"]}
    return {
        "Error": _object(
            ["error", "code"],
            error={**_STR, "description": "for people; may change"},
            code={"enum": sorted(ERRORS), "description": "for programs; stable"},
            request_id={**_STR, "description": "on 5xx: quote it to the operator"},
        ),
        "Health": _object(["status", "sessions"], status={"const": "ok"}, sessions=_INT),
        "NewSession": _object(["id"], id=_STR),
        "MessageRequest": _object(
            ["message"],
            message={**_STR, "minLength": 1, "maxLength": max_message_chars},
            stream={"type": "boolean", "default": False},
        ),
        "ToolCall": _object(["name", "args"], name=_STR, args={"type": "object"}),
        "ArtifactRef": _ARTIFACT_REF,
        "TurnResult": _object(
            ["answer", "steps", "stopped_reason", "tools", "artifacts"],
            answer=_STR,
            steps=_INT,
            stopped_reason=stopped,
            tools={
                "type": "array",
                "items": {"$ref": "#/components/schemas/ToolCall"},
                "description": "the tools this turn called (not earlier turns')",
            },
            artifacts={**_ARTIFACTS, "description": "what this turn's tools produced"},
        ),
        "History": _object(
            ["messages"],
            messages={
                "type": "array",
                "items": _object(
                    ["role", "content"],
                    role={"enum": ["human", "ai", "tool"]},
                    content=_STR,
                    name={**_STR, "description": "a tool message's tool"},
                    status={
                        "enum": ["success", "error"],
                        "description": "a tool message's outcome",
                    },
                    args={"type": "object", "description": "a tool message's call arguments"},
                    artifacts=_ARTIFACTS,
                ),
            },
        ),
        "TokenEvent": _event("token", ["text", "step"], text=_STR, step=_INT),
        "ToolStartEvent": _event(
            "tool_start",
            ["name", "args", "call_id", "step"],
            name=_STR,
            args={"type": "object"},
            call_id=_STR,
            step=_INT,
        ),
        "ToolEndEvent": _event(
            "tool_end",
            ["name", "call_id", "content", "status", "step", "has_artifact"],
            name=_STR,
            call_id=_STR,
            content={**_STR, "description": "a short preview of what the model reads"},
            status={"enum": ["success", "error"]},
            step=_INT,
            has_artifact={"type": "boolean"},
        ),
        "FinalEvent": _event(
            "final",
            ["answer", "steps", "stopped_reason", "tools", "artifacts"],
            answer=_STR,
            steps=_INT,
            stopped_reason=stopped,
            tools={"type": "array", "items": {"$ref": "#/components/schemas/ToolCall"}},
            artifacts=_ARTIFACTS,
        ),
        "ErrorEvent": _object(
            ["error", "code"],
            error=_STR,
            code={"enum": ["agent_failed", "session_busy", "turn_interrupted", "internal_error"]},
            request_id=_STR,
        ),
    }


def _operation(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(op.ok): {"description": op.summary, "content": op.ok_body, "headers": op.ok_headers}
    }
    by_status: dict[int, list[str]] = {}
    for code in op.error_codes():
        by_status.setdefault(ERRORS[code].status or 0, []).append(code)
    for status, codes in sorted(by_status.items()):
        responses[str(status)] = {
            "description": "; ".join(f"`{c}`: {ERRORS[c].meaning}" for c in codes),
            "content": _json("Error"),
        }
    for response in responses.values():  # an empty map is valid but noisy
        for key in ("content", "headers"):
            if not response.get(key):
                response.pop(key, None)
    words = re.findall(r"[a-z]+", f"{op.method} {op.path}".lower())
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": "_".join(words),
        "parameters": list(op.parameters),
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if op.body:
        out["requestBody"] = {"required": True, "content": _json(op.body)}
    if op.public:
        out["security"] = []
    return out


def openapi(max_message_chars: int = 4000) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the server (its limits filled in)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hf-tools chatbot server",
            "version": "1",
            "description": (
                "An agent with Hugging Face tools, one conversation per session. Errors are"
                ' JSON `{"error", "code"}` with a stable code (see the Error schema); 5xx'
                " bodies carry a `request_id` and never the failure's internals."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(max_message_chars),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
    }


_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "code{background:#f3f3f3;padding:0 .2em}h2{margin-top:2rem;font-family:monospace}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
    "text-align:left;vertical-align:top}"
)


def docs_page(document: dict[str, Any]) -> str:
    """The OpenAPI document as one readable HTML page (escaped; no script)."""
    esc = html.escape
    parts = [
        f"<!doctype html><meta charset=utf-8><title>{esc(document['info']['title'])}</title>",
        f"<style>{_STYLE}</style><h1>{esc(document['info']['title'])}</h1>",
        f"<p>{esc(document['info']['description'])}</p>",
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>',
    ]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            key = " (no API key)" if op.get("security") == [] else ""
            parts.append(f"<h2>{esc(method.upper())} {esc(path)}</h2>")
            parts.append(f"<p>{esc(op['summary'])}{key}.</p>")
            if "description" in op:
                parts.append(f"<p>{esc(op['description'])}</p>")
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                parts.append(f"<p>Body: <code>{esc(ref.rsplit('/', 1)[-1])}</code></p>")
            rows = "".join(
                f"<tr><td>{esc(status)}</td><td>{esc(r['description'])}</td></tr>"
                for status, r in op["responses"].items()
            )
            parts.append(f"<table><tr><th>status</th><th>means</th></tr>{rows}</table>")
    parts.append("<h2>Error codes</h2><table><tr><th>code</th><th>status</th><th>means</th></tr>")
    parts += [
        f"<tr><td><code>{esc(code)}</code></td><td>{error.status or 'SSE'}</td>"
        f"<td>{esc(error.meaning)}</td></tr>"
        for code, error in ERRORS.items()
    ]
    parts.append("</table><h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        fields = ", ".join(esc(f) for f in schema.get("properties", {}))
        parts.append(f"<p><code>{esc(name)}</code>: {fields}</p>")
    return "\n".join(parts)
