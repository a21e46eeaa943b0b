"""Request building and the one send path shared by the sync and async clients.

Everything here but the two ``send_*`` drivers is pure. The retry logic is written once, as a
generator (:func:`retry_flow`) that yields either a request to send or a delay to wait and
receives the outcome; :func:`send_sync` and :func:`send_async` only perform that I/O. This is
httpx's sans-I/O auth-flow idea applied to retries.

Limits, for hostile or broken servers:

* One deadline per call (:func:`deadline`, ``request.timeout`` seconds): the pools made by
  :func:`sync_pool` / :func:`async_pool` bound every connect, TLS handshake, read and write by
  the time left, so a server that drips bytes cannot stretch a call; retry waits that would
  pass it are not taken. Names are resolved by :func:`resolve` / :func:`aresolve` (a capped
  thread pool of their own, awaited at most the time left), and the socket connects to the
  address found.
* Every body is read with a cap counted after decompression (:class:`BodyReader`):
  ``request.max_body`` for a 2xx (:class:`ResponseTooLargeError` past it), 64 KB of an error
  body for its message. The connection is closed, not drained.

The modules, each with one job (this package only re-exports them):

* ``request``: :class:`HFRequest`, :class:`RawResponse`, their builders and decoders, redaction.
* ``deadlines``: the call's deadline (a context variable) and the time left.
* ``resolver``: name lookups bounded by that deadline, in a capped thread pool.
* ``backend``: httpcore2 network backends whose sockets keep to the deadline.
* ``idle``: the pool's "has this idle connection closed?" check, answered from the socket.
* ``pool``: the shared TLS context and the pooled clients, with those backends fitted in.
* ``body``: reading bodies under their cap (after decompression) and the deadline.
* ``retry``: what an outcome means and whether to retry (:func:`retry_flow`, pure).
* ``send``: one attempt on the wire, and the two drivers of :func:`retry_flow`. Tests swap
  ``send._exchange_sync`` / ``send._exchange_async`` / ``send._sleep`` / ``send._asleep``
  there, on that module: a copy of the names here would not be the one the drivers call.
"""

from hf_tools.http.body import (
    ERROR_BODY_BYTES,
    BodyReader,
    aiter_body,
    aread_body,
    iter_body,
    read_body,
)
from hf_tools.http.deadlines import deadline, time_left
from hf_tools.http.pool import (
    POOL_LIMITS,
    async_pool,
    client_options,
    given_transport,
    ssl_context,
    sync_pool,
)
from hf_tools.http.request import (
    USER_AGENT,
    HFRequest,
    RawResponse,
    build_headers,
    build_request,
    decode_body,
    json_body,
    redacting,
    secrets_of,
)
from hf_tools.http.resolver import RESOLVER_THREADS, aresolve, resolve
from hf_tools.http.retry import retry_flow, transport_error
from hf_tools.http.send import AsyncExchange, Exchange, send_async, send_sync

__all__ = [
    "ERROR_BODY_BYTES",
    "POOL_LIMITS",
    "RESOLVER_THREADS",
    "USER_AGENT",
    "AsyncExchange",
    "BodyReader",
    "Exchange",
    "HFRequest",
    "RawResponse",
    "aiter_body",
    "aread_body",
    "aresolve",
    "async_pool",
    "build_headers",
    "build_request",
    "client_options",
    "deadline",
    "decode_body",
    "given_transport",
    "iter_body",
    "json_body",
    "read_body",
    "redacting",
    "resolve",
    "retry_flow",
    "secrets_of",
    "send_async",
    "send_sync",
    "ssl_context",
    "sync_pool",
    "time_left",
    "transport_error",
]
