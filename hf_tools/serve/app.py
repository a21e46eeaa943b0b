"""The ASGI app: its routes, each over the sessions, the store and the agent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from langchain_core.messages import HumanMessage
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hf_tools.langchain.agent import Agent, AgentEvent, FinalAnswer
from hf_tools.serve.api import ERRORS, docs_page, openapi
from hf_tools.serve.artifacts import artifact_headers
from hf_tools.serve.auth import REQUEST_ID, ApiKeys, Guard, caller_of, log, normal_origin
from hf_tools.serve.errors import ChatError, error_response, failure
from hf_tools.serve.events import (
    EVENT_PAGE,
    INTERRUPTED,
    PING,
    TERMINAL,
    EventWriter,
    Failed,
    TurnArtifacts,
    event_stream,
    public_history,
    sse,
    turn_result,
)
from hf_tools.serve.sessions import Session, SessionStore, Streams, encodable, no_session
from hf_tools.serve.store import ConversationStore, StoredEvent
from hf_tools.serve.web import web_routes
from hf_tools.sse import well_formed

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def create_app(
    agent: Agent,
    *,
    api_keys: Iterable[str] = (),
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    max_message_chars: int = 4000,
    max_sessions: int = 1000,
    max_sessions_per_key: int = 100,
    max_streams: int = 64,
    max_streams_per_key: int = 4,
    max_tool_calls_per_key: int = 4,
    max_history: int = 40,
    store: ConversationStore | None = None,
    heartbeat: float = 15.0,
    poll_interval: float = 0.2,
    turn_wait: float = 30.0,
) -> Starlette:
    """The ASGI app; ``agent`` is shared by every session (it keeps no per-run state).

    Args:
        agent: the agent that answers (its model and tools).
        api_keys: keys accepted as ``Authorization: Bearer <key>``; none: the server is open.
        allowed_hosts: Host values served besides the bound address and loopback names
            (``name`` for any port, ``name:port``).
        allowed_origins: browser origins (``https://app.example``) allowed besides the
            server's own; they also get CORS headers.
        max_message_chars: longest accepted user message (413 beyond).
        max_sessions: conversations kept in all.
        max_sessions_per_key: conversations kept per key (a new one beyond is refused with
            429; none is deleted to make room).
        max_streams: turns (streamed or not) running at once in all (429 beyond).
        max_streams_per_key: turns running at once per key (429 beyond).
        max_tool_calls_per_key: tool calls running at once per key, over all its turns (the
            rest wait for one to end).
        max_history: messages of each conversation sent back to the model.
        store: where conversations are kept (default: in memory; ``main`` uses SQLite); the
            app closes it when it shuts down.
        heartbeat: seconds of silence after which an SSE stream gets a ``: ping`` comment.
        poll_interval: seconds between two reads of the store while resuming a running turn.
        turn_wait: seconds a turn (or a delete) waits for a running turn of its session,
            on any replica, before a 409 ``session_busy``.
    """
    sessions = SessionStore(
        max_history,
        max_sessions=max_sessions,
        max_per_owner=max_sessions_per_key,
        backend=store,
        turn_wait=turn_wait,
    )
    backend = sessions.backend
    streams = Streams(max_streams_per_key, max_streams, max_tool_calls_per_key)
    max_body = 4 * max_message_chars + 1024
    running: set[asyncio.Task[None]] = set()  # turns in flight, so shutdown can stop them
    document = openapi(max_message_chars)

    def _path_id(request: Request, name: str, code: str) -> str:
        value = str(request.path_params[name])
        if not _SESSION_ID.fullmatch(value):
            msg = f"{name.replace('_', ' ')} must be 1-64 letters, digits, '-' or '_'"
            raise ChatError(400, msg, code)
        return value

    def _session_id(request: Request) -> str:
        return _path_id(request, "session_id", "invalid_session_id")

    def _message(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            msg = 'send {"message": "<non-empty text>"}'
            raise ChatError(400, msg, "invalid_message")
        if well_formed(value) != value:  # "\ud83d" alone: no answer or store could encode it
            msg = "the message holds a lone surrogate (\\ud800-\\udfff), which is not text"
            raise ChatError(400, msg, "invalid_message")
        if len(value) > max_message_chars:
            msg = f"message is {len(value)} characters; the limit is {max_message_chars}"
            raise ChatError(413, msg, "message_too_long")
        return value

    async def _body(request: Request) -> dict[str, Any]:
        too_large = ChatError(413, f"body over {max_body} bytes", "body_too_large")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            raise too_large
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body:
                raise too_large
        try:
            data = json.loads(raw)
        except ValueError as exc:
            msg = f"body is not valid JSON: {exc}"
            raise ChatError(400, msg, "invalid_json") from exc
        except RecursionError as exc:  # [[[[...: deeper than the parser's stack
            msg = "body is not valid JSON: nested too deeply"
            raise ChatError(400, msg, "invalid_json") from exc
        if not isinstance(data, dict):
            msg = 'body must be a JSON object: {"message": "..."}'
            raise ChatError(400, msg, "invalid_body")
        return data

    async def _claim(request: Request, session_id: str) -> tuple[Session, list[Callable[[], None]]]:
        """The caller's session for one turn, counted against the key's limits.

        Returns the releases too: the turn runs them when it ends, whenever its request ends.
        """
        caller = caller_of(request)
        await sessions.require(caller.key_id, session_id)
        releases = [streams.acquire(caller.key_id)]
        try:
            session = sessions.open(caller.key_id, session_id)
            releases.append(lambda: sessions.release(session))
        except BaseException:
            for release in releases:
                release()
            raise
        return session, releases

    async def _events(
        session: Session,
        text: str,
        artifacts: TurnArtifacts,
        before_record: Callable[[], Awaitable[None]],
    ) -> AsyncGenerator[AgentEvent | Failed, None]:
        async with sessions.turn(session):  # 409 session_busy if another turn runs too long
            await sessions.load(session)
            before = len(session.messages)
            history = [*session.messages, HumanMessage(text)]
            try:
                slots = streams.tool_slots(session.owner)
                async for event in agent.astream_events(history, tool_slots=slots):
                    artifacts.saw(event)
                    if isinstance(event, FinalAnswer):
                        await before_record()  # its events so far are stored, or it fails
                        await artifacts.store(event.result)  # before the messages that cite them
                        await sessions.record(session, before, event.result.messages)
                    yield event
            except Exception as exc:  # yielded under the lock: its error event comes first
                yield Failed(exc)

    async def _run_turn(
        session: Session, text: str, request_id: str, out: asyncio.Queue[StoredEvent | None]
    ) -> None:
        """Run one turn, storing each event (so any replica can replay it) and queueing it.

        Events are stored while the turn holds its lock, the error of a failed turn too, so no
        other turn's events come between. A refusal before the turn began (409 session_busy)
        and a store that fails are told to this client only (an event without an id).
        """
        artifacts = TurnArtifacts(sessions, session.owner, session.session_id)
        writer = EventWriter(sessions, session, out)
        try:
            turn = _events(session, text, artifacts, writer.flush)
            async with contextlib.aclosing(turn) as events:
                async for event in events:
                    if isinstance(event, Failed):
                        log.error("turn failed (request %s)", request_id, exc_info=event.exc)
                        name, data = "error", failure(request_id)
                    elif isinstance(event, FinalAnswer):
                        name, data = "final", turn_result(event.result, artifacts.refs)
                        data = {"type": "final", **data}
                    else:
                        name, data = event.kind, event.to_dict()
                    writer.add(name, data)
                    if name in TERMINAL:
                        await writer.flush()  # still under the turn's lock
        except ChatError as exc:
            out.put_nowait(StoredEvent(0, "error", {"error": exc.message, "code": exc.code}))
        except Exception:
            log.exception("turn failed (request %s)", request_id)
            out.put_nowait(StoredEvent(0, "error", failure(request_id)))
        finally:
            writer.cancel()
            out.put_nowait(None)

    def _start_turn(
        session: Session, text: str, request: Request, releases: list[Callable[[], None]]
    ) -> asyncio.Queue[StoredEvent | None]:
        """Start a turn apart from its request: a client that leaves can resume it."""
        out: asyncio.Queue[StoredEvent | None] = asyncio.Queue()
        task = asyncio.ensure_future(_run_turn(session, text, request.scope[REQUEST_ID], out))
        running.add(task)

        def done(_: asyncio.Task[None]) -> None:
            running.discard(task)
            for release in releases:
                release()

        task.add_done_callback(done)
        return out

    async def _live(out: asyncio.Queue[StoredEvent | None]) -> AsyncIterator[str]:
        while True:
            try:
                event = await asyncio.wait_for(out.get(), heartbeat)
            except TimeoutError:
                yield PING
                continue
            if event is None:
                return
            yield sse(event.event, event.data, event.id or None)

    async def _read(owner: str, session_id: str, after: int, limit: int) -> list[StoredEvent]:
        return await sessions.threads.run(backend.events_after, owner, session_id, after, limit)

    async def _resume(owner: str, session_id: str, after: int) -> AsyncIterator[str]:
        """The stored events after ``after``, then the running turn's until its last one."""
        before = await _read(owner, session_id, after - 1, 1) if after else []
        last = before[0].event if before and before[0].id == after else None
        sent = False
        clock = asyncio.get_running_loop().time
        spoke = clock()  # silence is wall time: the store's reads take time too
        while True:
            batch = await _read(owner, session_id, after, EVENT_PAGE)
            for stored in batch:
                yield sse(stored.event, stored.data, stored.id)
                after, last, sent, spoke = stored.id, stored.event, True, clock()
            if len(batch) == EVENT_PAGE:
                continue
            if sent and last in TERMINAL:
                return  # the turn followed is over
            if batch:
                continue
            if not await sessions.threads.run(backend.turn_running, owner, session_id):
                if await _read(owner, session_id, after, 1):
                    continue  # it ended between the two reads
                if last is not None and last not in TERMINAL:
                    yield sse("error", INTERRUPTED)
                return
            await asyncio.sleep(poll_interval)
            if clock() - spoke >= heartbeat:
                yield PING
                spoke = clock()

    async def _told(body: AsyncIterator[str], request_id: str) -> AsyncIterator[str]:
        """``body``, or its failure as a last ``error`` event (the status line is gone)."""
        try:
            async for chunk in body:
                yield chunk
        except Exception:
            log.exception("stream failed (request %s)", request_id)
            yield sse("error", failure(request_id, "internal_error"))

    async def create_session(request: Request) -> Response:
        owner = caller_of(request).key_id
        session_id = secrets.token_urlsafe(12)  # 96 random bits: ids nobody can guess
        await sessions.admit(owner, session_id)
        sessions.release(sessions.open(owner, session_id))
        await sessions.threads.run(backend.create, owner, session_id)
        return JSONResponse({"id": session_id}, status_code=201)

    async def post_message(request: Request) -> Response:
        session_id = _session_id(request)
        data = await _body(request)
        text = _message(data.get("message"))
        stream = data.get("stream", False)
        if not isinstance(stream, bool):  # "false" is truthy: guessing would surprise someone
            msg = '"stream" must be true or false (a JSON boolean)'
            raise ChatError(400, msg, "invalid_stream")
        session, releases = await _claim(request, session_id)
        out = _start_turn(session, text, request, releases)
        if stream:
            return event_stream(_live(out))
        last: StoredEvent | None = None
        while (event := await out.get()) is not None:
            last = event
        assert last is not None
        if last.event == "final":
            return JSONResponse({k: v for k, v in last.data.items() if k != "type"})
        # The error event's data is the error body: 502 agent_failed, 409 session_busy.
        return JSONResponse(last.data, status_code=ERRORS[last.data["code"]].status or 502)

    async def get_events(request: Request) -> Response:
        owner, session_id = caller_of(request).key_id, _session_id(request)
        raw = request.query_params.get("after", request.headers.get("last-event-id", "0"))
        if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
            msg = "after (or Last-Event-ID) must be an event id: a whole number >= 0"
            raise ChatError(400, msg, "invalid_after")
        if await sessions.history(owner, session_id) is None:
            raise no_session()
        # A resumed stream holds a connection and polls the store: it counts as a turn does.
        caller_of(request).releases.append(streams.acquire(owner))
        resumed = _resume(owner, session_id, int(raw))
        return event_stream(_told(resumed, request.scope[REQUEST_ID]))

    async def get_artifact(request: Request) -> Response:
        session_id = _session_id(request)
        artifact_id = _path_id(request, "artifact_id", "invalid_artifact_id")
        found = await sessions.threads.run(
            backend.get_artifact, caller_of(request).key_id, session_id, artifact_id
        )
        if found is None:  # another key's too: 404 tells nothing about its ids
            raise ChatError(404, "no such artifact", "artifact_not_found")
        content_type, headers = artifact_headers(artifact_id, found[0])
        return Response(found[1], media_type=content_type, headers=headers)

    async def get_session(request: Request) -> Response:
        messages = await sessions.history(caller_of(request).key_id, _session_id(request))
        if messages is None:  # another key's session too: 404 tells nothing about its ids
            raise no_session()
        return JSONResponse({"messages": encodable(public_history(messages))})

    async def delete_session(request: Request) -> Response:
        if not await sessions.remove(caller_of(request).key_id, _session_id(request)):
            raise no_session()
        return Response(status_code=204)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "sessions": len(sessions)})

    async def openapi_json(_: Request) -> Response:
        return JSONResponse(document)

    async def docs(_: Request) -> Response:
        csp = "default-src 'none'; style-src 'unsafe-inline'"
        return HTMLResponse(docs_page(document), headers={"Content-Security-Policy": csp})

    async def on_chat_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChatError)
        return error_response(exc.status, exc.message, exc.code)

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, exc.detail)

    handlers: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {
        ("GET", "/health"): health,
        ("GET", "/openapi.json"): openapi_json,
        ("GET", "/docs"): docs,
        ("POST", "/sessions"): create_session,
        ("GET", "/sessions/{session_id}"): get_session,
        ("DELETE", "/sessions/{session_id}"): delete_session,
        ("POST", "/sessions/{session_id}/messages"): post_message,
        ("GET", "/sessions/{session_id}/events"): get_events,
        ("GET", "/sessions/{session_id}/artifacts/{artifact_id}"): get_artifact,
    }
    routes = [
        Route(path, handler, methods=[method]) for (method, path), handler in handlers.items()
    ]
    routes += web_routes()  # the page at /; hf_tools.serve.web says which of them OpenAPI lists
    middleware = [
        Middleware(
            Guard,
            keys=ApiKeys(api_keys),
            allowed_hosts=allowed_hosts,
            allowed_origins=allowed_origins,
            routes=routes,
        )
    ]
    if allowed_origins:  # outermost: browsers' preflights carry no key
        cors = Middleware(
            CORSMiddleware,
            allow_origins=[normal_origin(o) for o in allowed_origins],
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            expose_headers=["X-Request-ID"],
        )
        middleware.insert(0, cors)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for task in list(running):  # what a killed replica leaves: resumers hear it
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await sessions.threads.run(backend.close)
        sessions.threads.shutdown()

    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={ChatError: on_chat_error, HTTPException: on_http_error},
    )
    app.state.sessions = sessions
    app.state.agent = agent
    return app
