"""Who serves which task with which default model, derived from the task specs.

Each task module's ``SPEC.serving`` says which Hub model each provider is known to serve it
with (best first); this module reads those rows, the one source, and decides without any
request:

* which tools ``HuggingFaceToolkit(tasks=None)`` offers (:func:`served_model`);
* the default model of a task on a named provider (fal-ai's ASR is Whisper, hf-inference's a
  wav2vec2);
* the docs' tools and providers tables (:func:`tools_table`, :func:`provider_table`, kept true
  by a test).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hf_tools.config import AUTO, HF_INFERENCE, Settings
from hf_tools.errors import ConfigurationError
from hf_tools.routing import ROUTER_CHOOSES, hub_task, router_picks
from hf_tools.tasks import REGISTRY

__all__ = [
    "DEFAULT_MODELS",
    "HF_INFERENCE_TASKS",
    "ROUTER_CHOOSES",
    "default_for",
    "defaults_of",
    "provider_table",
    "served_model",
    "serves_on_hf_inference",
    "tools_table",
]

DEFAULT_MODELS: dict[str, tuple[tuple[str, str], ...]] = {
    spec.task: spec.serving for spec in REGISTRY.values() if not spec.needs_endpoint
}
"""``task -> ((provider, Hub model id), ...)``, best first, from each spec's ``serving``; the
first is the task's ``default_model``. Every provider here has an adapter for the task (a test
checks)."""

HF_INFERENCE_TASKS = frozenset(
    hub_task(task)
    for task, rows in DEFAULT_MODELS.items()
    if any(provider == HF_INFERENCE for provider, _ in rows)
)
"""The Hub tasks Hugging Face's serverless hf-inference serves models for (since July 2025,
its provider page); hf-tools speaks hf-inference's format for every task."""


def defaults_of(task: str) -> tuple[tuple[str, str], ...]:
    """``task``'s serving rows (its spec's ``serving``); () for an unknown task."""
    return DEFAULT_MODELS.get(task, ())


def serves_on_hf_inference(task: str, model: str) -> bool:
    """Whether the catalog says hf-inference serves ``model`` for ``task``."""
    return (HF_INFERENCE, model) in defaults_of(task)


def _candidates(task: str, provider: str, order: Sequence[str] | None) -> list[tuple[str, str]]:
    entries = defaults_of(task)
    if provider != AUTO:
        return [e for e in entries if e[0] == provider]
    if order is None:
        return list(entries)
    rank = {name: i for i, name in enumerate(order)}
    return sorted((e for e in entries if e[0] in rank), key=lambda e: rank[e[0]])


def default_for(task: str, provider: str, order: Sequence[str] | None = None) -> str | None:
    """The default Hub model of ``task`` on ``provider`` (or ``"auto"`` within ``order``)."""
    found = _candidates(task, provider, order)
    return found[0][1] if found else None


def served_model(settings: Settings, spec: Any) -> str:
    """The model (or endpoint) ``spec``'s tool uses with ``settings``; decided without I/O.

    A model or endpoint the user named is trusted, and so is an explicit ``base_url`` (the
    developer's own hf-inference-format server). Otherwise the task needs an entry in
    :data:`DEFAULT_MODELS` for the provider :meth:`Settings.provider_for` picks (``"auto"``
    with a token, hf-inference without one).

    Raises:
        ConfigurationError: nothing serves the task so; the message names what would.
    """
    task = spec.task
    if spec.needs_endpoint:
        endpoint = settings.endpoint_for(task)
        if endpoint is None:
            msg = f"{task} needs its endpoint URL in models[{task!r}]"
            raise ConfigurationError(msg, task=task)
        return endpoint
    named = settings.models.get(task)
    if named is not None:
        return named
    provider = settings.provider_for(task) or HF_INFERENCE  # raises: a provider without adapter
    if provider == HF_INFERENCE and (settings.base_url_given or settings.is_custom_endpoint):
        return str(spec.default_model)
    if router_picks(settings, task, provider):
        return str(spec.default_model)  # the router's chat route picks who serves it
    model = default_for(task, provider, settings.provider_order)
    if model is None:
        raise ConfigurationError(_unserved(task, provider), task=task)
    return model


def _unserved(task: str, provider: str) -> str:
    name = f"name a model or endpoint URL in models[{task!r}]"
    fitting = ", ".join(f"{p} ({m})" for p, m in defaults_of(task))
    if not fitting:
        return (
            f"{task} cannot be served with these settings: no provider serves it with a default"
            f" model (hf-inference dropped it in 2025); {name}, e.g. your Inference Endpoint"
        )
    where = "no provider in provider_order" if provider == AUTO else provider
    return (
        f"{task} cannot be served with these settings: {where} has no default model for it;"
        f" providers with one: {fitting}. Choose one of them, or {name}"
    )


def _defaults_cell(task: str) -> str:
    by_model: dict[str, list[str]] = {}
    for provider, model in defaults_of(task):
        by_model.setdefault(model, []).append(provider)
    if not by_model:
        return "none served: name a model or endpoint"
    return "; ".join(f"`{m}` ({', '.join(ps)})" for m, ps in by_model.items())


def provider_table() -> str:
    """The markdown table of docs/providers.md: per tool, who serves it, with which model."""
    from hf_tools.providers import providers_for  # the registry: only the table needs it

    lines = [
        "| tool | Hub task | hf-inference | other providers (hf-tools adapters)"
        " | default model (served by) |",
        "|---|---|---|---|---|",
    ]
    for spec in REGISTRY.values():
        if spec.needs_endpoint:
            continue
        served = "yes" if hub_task(spec.task) in HF_INFERENCE_TASKS else "no models"
        others = ", ".join(providers_for(spec.task)) or "-"
        lines.append(
            f"| `{spec.tool_name}` | {hub_task(spec.task)} | {served} | {others}"
            f" | {_defaults_cell(spec.task)} |"
        )
    return "\n".join(lines) + "\n"


def _arguments(spec: Any) -> str:
    schema = spec.input_model.model_json_schema()
    required = schema.get("required", [])
    return ", ".join(n if n in required else f"{n}?" for n in schema["properties"])


def tools_table() -> str:
    """The docs' markdown table: per tool, the arguments an LLM sees and its default model."""
    lines = [
        "| tool | arguments an LLM sees (`?` = optional) | default model |",
        "|---|---|---|",
    ]
    for spec in REGISTRY.values():
        model = (
            f'your endpoint URL (`models={{"{spec.task}": url}}`)'
            if spec.needs_endpoint
            else f"`{spec.default_model}`"
        )
        lines.append(f"| `{spec.tool_name}` | {_arguments(spec)} | {model} |")
    return "\n".join(lines) + "\n"
