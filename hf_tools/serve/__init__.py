"""The chatbot server, ``hf-tools serve``: an agent with the toolkit, one conversation a session.

Routes (answers JSON unless said; ``GET /openapi.json`` is the OpenAPI 3.1 document of all
of them, ``GET /docs`` the same as a page):

* ``POST /sessions``: a new empty session with a server-issued id (201 ``{"id": ...}``).
* ``POST /sessions/{id}/messages`` with ``{"message": "...", "stream": false}``: runs a turn
  with the session's history (404 ``session_not_found`` for an id this key was never issued:
  only ``POST /sessions`` makes one); answers ``{"answer", "steps", "stopped_reason", "tools",
  "artifacts"}`` (this turn's tool calls and artifacts only). With ``"stream": true`` the
  answer is Server-Sent Events: ``token``, ``tool_start``, ``tool_end``, then ``final`` (the
  same object) or ``error``, each with an ``id:`` (increasing per session, from the store, so
  the same on every replica) and one JSON object as ``data``; a ``: ping`` comment comes
  after each ``heartbeat`` seconds of silence. The turn runs apart from its request: a client
  that leaves does not stop it.
* ``GET /sessions/{id}/events?after=N`` (or ``Last-Event-ID: N``): resumes a stream (it counts
  against the stream limits as a turn does). Replays
  the stored events after N, then, while the session's turn runs on any replica
  (``turn_running``), follows its new events from the store until the last one. A turn that
  died (no last event, no lock held) ends with an ``error`` of code ``turn_interrupted``:
  send the message again. It never starts a turn. (There is no GET that runs a turn: an
  ``EventSource`` that reconnected to one ran the message again.)
* ``GET /sessions/{id}/artifacts/{artifact_id}``: the bytes of an image, mask or audio a tool
  produced, with its content type (``X-Content-Type-Options: nosniff``, ``inline`` only for
  images, audio and video; anything else is an ``application/octet-stream`` attachment).
  Responses reference them as ``{"id", "tool", "type", "content_type", "url"}``.
* ``GET /sessions/{id}``: the history (role and text, never the system prompt; tool messages
  with their ``artifacts``); ``DELETE /sessions/{id}``: forget it, its events and artifacts.
* ``GET /``: the web chat page (``hf_tools.serve.web``; its files under ``/web/``).
* ``GET /health``, ``GET /openapi.json``, ``GET /docs``: with the page, the routes that need
  no key.

Errors are ``{"error": "<for people>", "code": "<stable, for programs>"}``; 5xx bodies and
SSE ``error`` events of failed turns add ``request_id`` (every answer has it as
``X-Request-ID``), and never say the exception's type or the upstream's text: the server logs
those under the request id. The codes (``hf_tools.serve.api.ERRORS``):

=====  ==============================================================================
400    ``invalid_json``, ``invalid_body``, ``invalid_message``, ``invalid_stream``,
       ``invalid_session_id``, ``invalid_artifact_id``, ``invalid_after``
401    ``missing_api_key``, ``invalid_api_key``
403    ``host_not_allowed``, ``origin_not_allowed``, ``cross_site``
404    ``not_found`` (no route), ``session_not_found``, ``artifact_not_found``
405    ``method_not_allowed``
409    ``session_busy`` (another turn of the session ran past ``turn_wait``)
413    ``message_too_long``, ``body_too_large``
415    ``unsupported_media_type``
429    ``too_many_sessions``, ``server_full``, ``too_many_streams``, ``server_busy``
500    ``internal_error``
502    ``agent_failed`` (the model, a tool or the store failed; nothing was recorded)
503    ``too_many_connections`` (``hf_tools.serve.connections``: every connection is in a request)
SSE    ``agent_failed``, ``session_busy``, ``session_not_found`` (deleted meanwhile),
       ``turn_interrupted``, ``internal_error``
=====  ==============================================================================

Access: with API keys (``api_keys``), every route but those needs
``Authorization: Bearer <key>`` (401 otherwise), and a session belongs to the key that made
it (another key gets 404, and its own ``alice`` is a different session). Without keys the
server is open, which ``main`` allows on a loopback address only. Every request's Host must be
the bound address (or a loopback name) on its port, or listed; a request with an Origin
other than its own or a listed one, or that a browser marks cross-site, gets 403; every POST
must be ``application/json`` (415), so no page can send one as a "simple" CORS request.

Limits: a message may have at most ``max_message_chars`` characters (413 beyond; bodies over
``4 * max_message_chars`` bytes are refused before parsing). Each key keeps at most
``max_sessions_per_key`` conversations (``max_sessions`` in all), counted in the store: a
new one beyond is refused with 429 (``too_many_sessions``, ``server_full``); no conversation
is ever deleted to make room. Each key runs at most ``max_streams_per_key`` turns at once
(``max_streams`` in all; 429 beyond) and ``max_tool_calls_per_key`` tool calls over all of
them (the rest wait). Store calls run in the store's own threads, so no tool that blocks
threads delays them. ``main`` serves behind ``hf_tools.serve.connections``:
``--header-timeout`` and ``--max-connections``. Each history keeps its last ``max_history``
messages (cut at a user turn), which bounds both memory and the prompt. Artifacts (images,
masks, audio) are kept in the store, never in memory or sent to the model. The access log
has the method, the route's path template, the status, the duration, a hash of the key and
the request id: never the path or the query, where session ids are.

Storage: conversations live in an ``hf_tools.serve.store`` backend (``--store
sqlite:///chatbot.db`` by default, so a restart loses nothing; ``postgresql://...`` for several
replicas; ``create_app`` defaults to memory). Each turn holds the store's turn lock of its session
(every process and replica), reads the history from the store under it and is stored
atomically; a second turn waits up to ``turn_wait`` seconds, then gets 409 ``session_busy``.
``"stream"`` must be a JSON boolean (400 ``invalid_stream`` otherwise: ``"false"`` would be
truthy).

Local files: any HTTP client chooses the tool arguments (through the model), so by default the
server reads no local file at all: media arguments must be http(s) URLs or base64 data.
``--allow-files DIR`` (repeatable) lets tools read media from those folders only.

Run it: ``HF_TOKEN=hf_... hf-tools serve --port 8000 [--store URL] [--allow-files DIR]
[--api-keys-file FILE]`` (needs the ``server`` extra: ``pip install "hf-tools[server]"``;
``--help`` lists the rest, each flag also read from ``HF_TOOLS_<FLAG>``). The token is
needed only when ``--chat-base-url`` or ``--base-url`` is a Hugging Face host (both default
to one).
"""
