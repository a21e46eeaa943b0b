"""Provider adapters: how each Inference Provider speaks each task it serves. No I/O here.

A task module (``hf_tools.tasks.<task>``) says what a task means: ``<Task>Input``,
``<Task>Output``. An adapter here says how one provider serves it. Routing
(:mod:`hf_tools.routing`) picks the provider and the provider-side model id; the call flow
(:mod:`hf_tools.flow`) runs an adapter's steps with a sync or an async driver. Every call goes
that way, hf-inference's included.

The contract (see :mod:`hf_tools.providers._base`)
---------------------------------------------------
``REGISTRY[(provider, task)]`` is an :class:`Adapter` with pure functions (hf-inference's are
built from the task contracts' ``SPEC.hf_inference``, see :mod:`hf_tools.providers.hf_inference`):

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
  foreign polling hosts never get it, and are fetched by the pinned downloader of
  :func:`hf_tools.media.fetch` (resolved once within the deadline, public addresses only,
  connected at the checked address) -- URLs a provider hands back are untrusted input;
* ``purpose == "download"``: the answer is a file (``max_binary_bytes``); its redirects
  are followed, each hop checked; any other 3xx answer is an error;
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

from importlib import import_module
from typing import TYPE_CHECKING, Any

from hf_tools.errors import ConfigurationError
from hf_tools.providers import hf_inference
from hf_tools.providers._base import (
    HF_INFERENCE,
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
    "LEFT_OUT",
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

if TYPE_CHECKING:
    REGISTRY: dict[tuple[str, str], Adapter[Any]]
    """``(provider, task) -> Adapter`` for every pair an adapter exists for, hf-inference's
    first. Built on first use: the hf-inference path never loads the other providers."""


LEFT_OUT: dict[tuple[str, str], str] = {
    ("openai", "conversational"): (
        "huggingface_hub's openai provider is no Inference Provider: it calls api.openai.com"
        " directly with an OpenAI key (it refuses an hf_ token), not through the Hugging Face"
        " router; use langchain-openai's ChatOpenAI for it"
    ),
}
"""``(provider, task)`` pairs of huggingface_hub's InferenceClient with no adapter here, on
purpose, and why (a test checks every other pair of its provider registry has one)."""

# One line per provider module (each defines ``ADAPTERS``), imported on first use.
_MODULES = (
    "fal_ai",
    "replicate",
    "together",
    "black_forest_labs",
    "nebius",
    "novita",
    "sambanova",
    "hyperbolic",
    "fireworks_ai",
    "cerebras",
    "groq",
    "cohere",
    "nscale",
    "scaleway",
    "featherless_ai",
    "deepinfra",
    "wavespeed",
    "zai_org",
    "chat_only",
)


def _registry() -> dict[tuple[str, str], Adapter[Any]]:
    registry: dict[tuple[str, str], Adapter[Any]] | None = globals().get("REGISTRY")
    if registry is None:
        modules = [hf_inference, *(import_module(f"{__name__}.{name}") for name in _MODULES)]
        registry = {(a.provider, a.task): a for module in modules for a in module.ADAPTERS}
        globals()["REGISTRY"] = registry
    return registry


def __getattr__(name: str) -> Any:
    # PEP 562: ``REGISTRY`` is built on first access, so ``import hf_tools`` stays light.
    if name == "REGISTRY":
        return _registry()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def providers_for(task: str) -> tuple[str, ...]:
    """The providers besides hf-inference with an adapter for ``task``, in registry order."""
    return tuple(p for p, t in _registry() if t == task and p != HF_INFERENCE)


def tasks_for(provider: str) -> tuple[str, ...]:
    """The tasks ``provider`` has adapters for."""
    return tuple(t for p, t in _registry() if p == provider)


def speaks(provider: str, task: str) -> bool:
    """Whether hf-tools can send ``task`` to ``provider`` (an adapter exists).

    Pass this function as ``routing.resolve(..., speaks=speaks)``.
    """
    if provider == HF_INFERENCE:
        return hf_inference.adapter_for(task) is not None
    return (provider, task) in _registry()


def get_adapter(provider: str, task: str) -> Adapter[Any]:
    """The adapter of ``(provider, task)``, or a ConfigurationError naming what would fit."""
    adapter = (
        hf_inference.adapter_for(task)
        if provider == HF_INFERENCE
        else _registry().get((provider, task))
    )
    if adapter is not None:
        return adapter
    others = list(providers_for(task))
    if hf_inference.adapter_for(task) is not None:
        others.insert(0, HF_INFERENCE)
    fitting = ", ".join(others) or "none"
    msg = f"provider {provider!r} has no adapter for {task}; providers that have one: {fitting}"
    raise ConfigurationError(msg, task=task)
