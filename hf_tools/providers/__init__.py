"""Provider adapters: how each Inference Provider speaks each task it serves. No I/O here.

A task module (``hf_tools.tasks.<task>``) says what a task means: ``<Task>Input``,
``<Task>Output``. An adapter here says how one provider serves it. Routing
(:mod:`hf_tools.routing`) picks the provider and the provider-side model id; the call flow
(to be wired) runs an adapter's steps with a sync or an async driver.

The contract (see :mod:`hf_tools.providers._base`)
---------------------------------------------------
``REGISTRY[(provider, task)]`` is an :class:`Adapter` with pure functions:

* ``route(provider_model) -> str``: the path under ``{router_url}/{provider}``;
* ``headers``: extra request headers (replicate: ``Prefer: wait``);
* ``payload(call) -> Payload``: the body, from ``call.args`` (the task's validated Input),
  ``call.media`` (resolved image/audio inputs) and ``call.model`` (the ``providerId``);
* ``parse(body, call) -> Step``: the decoded first response -> a :class:`Step`.

``adapter.start(call)`` gives the first step. A :class:`Step` is either

* :class:`Done` ``(output)``: the task's Output; the call is over; or
* :class:`Send` ``(request, then, delay)``: wait ``delay`` seconds, send ``request``, decode
  the 2xx reply as ``request.expect`` says (``json`` or ``bytes``), and call
  ``then(Reply(body, content_type, status))`` for the next step.

A driver is therefore one loop::

    step = adapter.start(call)
    while isinstance(step, Send):
        sleep(step.delay)                 # bounded by the call's deadline
        reply = send(step.request)        # non-2xx -> errors.error_from_response, as today
        step = step.then(reply)
    return step.output

What the driver must honour on a :class:`Request`:

* ``auth``: add the Hugging Face token only when True (router URLs); result downloads and
  foreign polling hosts never get it;
* ``purpose == "download"``: fetch through the capped, deadline-bound media downloader
  (``max_media_bytes``, private-address refusal) -- result URLs are untrusted input;
* ``purpose == "poll"``: the chain may be long; stop at the call's deadline (raise
  ``HFTimeoutError`` naming the job) and stop at once on an async cancel.

Asynchronous jobs are described by a :class:`Job` (``state``, ``status_request``, ``result``,
``interval``); ``Job.follow`` turns a submit response into the chain of poll steps. A job
that ends badly raises :class:`JobFailedError` / :class:`JobCancelledError` (``APIError``
subclasses, ``llm_fixable``) carrying the provider's own message and ``job_id``. A 2xx body
of the wrong shape raises ``ResponseFormatError`` naming the provider and the model.

Adding a provider = one module with ``ADAPTERS``, one line in ``_MODULES`` below, cassettes
under ``cassettes/providers/<provider>/<task>/``. Nothing in this package imports LangChain.
"""

from __future__ import annotations

from typing import Any

from hf_tools.errors import ConfigurationError
from hf_tools.providers import (
    black_forest_labs,
    cerebras,
    chat_only,
    cohere,
    deepinfra,
    fal_ai,
    featherless_ai,
    fireworks_ai,
    groq,
    hyperbolic,
    nebius,
    novita,
    nscale,
    replicate,
    sambanova,
    scaleway,
    together,
    wavespeed,
    zai_org,
)
from hf_tools.providers._base import (
    Adapter,
    Call,
    Done,
    Job,
    JobCancelledError,
    JobFailedError,
    Reply,
    Request,
    Send,
    Step,
)

__all__ = [
    "HF_INFERENCE",
    "REGISTRY",
    "Adapter",
    "Call",
    "Done",
    "Job",
    "JobCancelledError",
    "JobFailedError",
    "Reply",
    "Request",
    "Send",
    "Step",
    "get_adapter",
    "providers_for",
    "speaks",
    "tasks_for",
]

HF_INFERENCE = "hf-inference"

_MODULES = (
    fal_ai,
    replicate,
    together,
    black_forest_labs,
    nebius,
    novita,
    sambanova,
    hyperbolic,
    fireworks_ai,
    cerebras,
    groq,
    cohere,
    nscale,
    scaleway,
    featherless_ai,
    deepinfra,
    wavespeed,
    zai_org,
    chat_only,
)

REGISTRY: dict[tuple[str, str], Adapter[Any]] = {
    (adapter.provider, adapter.task): adapter for module in _MODULES for adapter in module.ADAPTERS
}
"""``(provider, task) -> Adapter`` for every pair an adapter exists for (hf-inference: the
task modules speak it directly, see ``hf_tools.tasks``)."""


def providers_for(task: str) -> tuple[str, ...]:
    """The providers with an adapter for ``task``, in registry order."""
    return tuple(p for p, t in REGISTRY if t == task)


def tasks_for(provider: str) -> tuple[str, ...]:
    """The tasks ``provider`` has adapters for."""
    return tuple(t for p, t in REGISTRY if p == provider)


def speaks(provider: str, task: str) -> bool:
    """Whether hf-tools can send ``task`` to ``provider``: an adapter exists, or hf-inference.

    hf-inference is spoken by the task modules themselves. Pass this function as
    ``routing.resolve(..., speaks=speaks)``.
    """
    return (provider, task) in REGISTRY or provider == HF_INFERENCE


def get_adapter(provider: str, task: str) -> Adapter[Any]:
    """The adapter of ``(provider, task)``, or a ConfigurationError naming what would fit."""
    adapter = REGISTRY.get((provider, task))
    if adapter is not None:
        return adapter
    fitting = ", ".join(providers_for(task)) or "none besides hf-inference"
    msg = f"provider {provider!r} has no adapter for {task}; providers that have one: {fitting}"
    raise ConfigurationError(msg, task=task)
