"""hf-inference: the adapter of every task whose contract carries an :class:`HFInferenceWire`.

Each task module writes how hf-inference speaks it next to its contract (``SPEC.hf_inference``:
``build``, ``parse``, ``pipeline``, ``chat``, ``accept``, ``response``), so adding a task stays
one module; this module turns that wire into an :class:`~hf_tools.providers.Adapter` like every
other provider's, built once per task at import. The same adapter serves any server speaking
the format: a ``base_url``, a dedicated endpoint URL, the router's chat route. Routing
(:func:`hf_tools.routing.hf_inference_url`) fixes the URL and passes it as ``call.url``; the
route here is the path under ``{router_url}/hf-inference`` for calls built without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hf_tools.providers._base import HF_INFERENCE, Adapter, Call, Done, Step, is_url
from hf_tools.tasks import REGISTRY as TASKS
from hf_tools.tasks._base import HFInferenceWire, Payload, TaskSpec

__all__ = ["ADAPTERS", "PROVIDER", "adapter_for", "model_path"]

PROVIDER = HF_INFERENCE
_CHAT_ROUTE = "/v1/chat/completions"


def model_path(model: str, pipeline: str | None = None) -> str:
    """``/models/{id}``, plus ``/pipeline/{pipeline}`` for the task-forcing routes."""
    path = f"/models/{model}"
    return f"{path}/pipeline/{pipeline}" if pipeline else path


def _route(wire: HFInferenceWire[Any, Any]) -> Callable[[str], str]:
    if wire.chat:
        return lambda model: _CHAT_ROUTE
    pipeline = wire.pipeline
    return lambda model: model_path(model, pipeline)


def _payload(wire: HFInferenceWire[Any, Any]) -> Callable[[Call[Any]], Payload]:
    build = wire.build
    if not wire.chat:
        return lambda call: build(call.args, call.media)

    def chat_payload(call: Call[Any]) -> Payload:
        # First key: the router reads the model from a prefix of the body; a TGI endpoint
        # answers to the name "tgi".
        payload = build(call.args, call.media)
        named = "tgi" if is_url(call.model) else call.model
        return Payload(json={"model": named, **payload.json})

    return chat_payload


def _parse(wire: HFInferenceWire[Any, Any]) -> Callable[[Any, Call[Any]], Step]:
    parse = wire.parse
    return lambda body, call: Done(parse(body, call.args))


def _adapter(spec: TaskSpec[Any, Any]) -> Adapter[Any] | None:
    wire = spec.hf_inference
    if wire is None:
        return None
    headers = {"accept": wire.accept} if wire.accept else {}
    return Adapter(
        provider=PROVIDER,
        task=spec.task,
        route=_route(wire),
        payload=_payload(wire),
        parse=_parse(wire),
        headers=headers,
        expect=wire.response,
        offload=wire.parse_in_thread,
    )


_BY_TASK: dict[str, Adapter[Any]] = {
    spec.task: adapter for spec in TASKS.values() if (adapter := _adapter(spec)) is not None
}

ADAPTERS: tuple[Adapter[Any], ...] = tuple(_BY_TASK.values())
"""One adapter per task hf-inference speaks, in the task registry's order."""


def adapter_for(task: str) -> Adapter[Any] | None:
    """The hf-inference adapter of ``task``; None when hf-inference does not speak it."""
    return _BY_TASK.get(task)
