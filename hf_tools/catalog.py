"""Who serves which task with which default model: the one table, and what it implies.

:data:`DEFAULT_MODELS` says, per task, which Hub model each provider is known to serve it with
(best first). It decides, without any request:

* which tools ``HuggingFaceToolkit(tasks=None)`` offers (:func:`served_model`);
* the default model of a task on a named provider (fal-ai's ASR is Whisper, hf-inference's a
  wav2vec2);
* the task x provider table of docs/providers.md (:func:`provider_table`, kept true by a test).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hf_tools.config import AUTO, HF_INFERENCE, Settings
from hf_tools.errors import ConfigurationError
from hf_tools.routing import hub_task
from hf_tools.tasks import REGISTRY

__all__ = [
    "DEFAULT_MODELS",
    "HF_INFERENCE_TASKS",
    "ROUTER_CHOOSES",
    "default_for",
    "defaults_of",
    "provider_table",
    "served_model",
]

HF_INFERENCE_TASKS = frozenset(
    {
        "text-classification",
        "token-classification",
        "zero-shot-classification",
        "question-answering",
        "table-question-answering",
        "fill-mask",
        "summarization",
        "translation",
        "feature-extraction",
        "image-classification",
        "image-segmentation",
        "object-detection",
        "automatic-speech-recognition",
        "text-to-image",
    }
)
"""The tasks Hugging Face's serverless hf-inference has served models for since July 2025
(its provider page); hf-tools speaks hf-inference's format for every task."""

_FLUX = "black-forest-labs/FLUX.1-schnell"
_LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
_KOKORO = "hexgrad/Kokoro-82M"
_KONTEXT = "black-forest-labs/FLUX.1-Kontext-dev"
_MOCHI = "genmo/mochi-1-preview"
_WAN_I2V = "Wan-AI/Wan2.2-I2V-A14B"

DEFAULT_MODELS: dict[str, tuple[tuple[str, str], ...]] = {
    # hf-inference entries: its router-era recordings (huggingface_hub cassettes, 2025-04), for
    # the tasks it still serves; the others: the provider recordings named in cassettes/INDEX.md
    # (huggingface.js tapes) and the Hub mappings of the huggingface_hub chat cassettes.
    "text-classification": (
        (HF_INFERENCE, "distilbert/distilbert-base-uncased-finetuned-sst-2-english"),
    ),
    "zero-shot-classification": ((HF_INFERENCE, "facebook/bart-large-mnli"),),
    "token-classification": ((HF_INFERENCE, "dbmdz/bert-large-cased-finetuned-conll03-english"),),
    "question-answering": ((HF_INFERENCE, "deepset/roberta-base-squad2"),),
    "table-question-answering": ((HF_INFERENCE, "google/tapas-base-finetuned-wtq"),),
    "fill-mask": ((HF_INFERENCE, "distilbert/distilroberta-base"),),
    "summarization": ((HF_INFERENCE, "facebook/bart-large-cnn"),),
    "translation": ((HF_INFERENCE, "google-t5/t5-small"),),
    # together /v1/completions (tapes #94570e88ad7c); hf-inference serves no text generation.
    "text-generation": (("together", "mistralai/Mixtral-8x7B-v0.1"),),
    # Mappings recorded for Llama-3.1-8B-Instruct (live: sambanova, novita, nebius, fireworks);
    # cerebras, together, hyperbolic, cohere from their chat tapes.
    "conversational": (
        ("sambanova", _LLAMA),
        ("novita", _LLAMA),
        ("nebius", _LLAMA),
        ("fireworks-ai", _LLAMA),
        ("cerebras", _LLAMA),
        ("together", "meta-llama/Llama-3.3-70B-Instruct"),
        ("hyperbolic", "meta-llama/Llama-3.2-3B-Instruct"),
        ("cohere", "CohereForAI/c4ai-command-r7b-12-2024"),
    ),
    "feature-extraction": (
        (HF_INFERENCE, "sentence-transformers/paraphrase-xlm-r-multilingual-v1"),
        ("sambanova", "intfloat/e5-mistral-7b-instruct"),
    ),
    "sentence-embeddings": (
        (HF_INFERENCE, "sentence-transformers/distilbert-base-nli-mean-tokens"),
    ),
    "image-classification": ((HF_INFERENCE, "google/vit-base-patch16-224"),),
    "object-detection": ((HF_INFERENCE, "facebook/detr-resnet-50"),),
    "image-segmentation": ((HF_INFERENCE, "facebook/detr-resnet-50-panoptic"),),
    "text-to-image": (
        (HF_INFERENCE, _FLUX),
        ("fal-ai", _FLUX),
        ("replicate", _FLUX),
        ("nebius", _FLUX),
        ("together", "stabilityai/stable-diffusion-xl-base-1.0"),
        ("black-forest-labs", "black-forest-labs/FLUX.1-dev"),
        ("hyperbolic", "stabilityai/stable-diffusion-2"),
    ),
    "automatic-speech-recognition": (
        (HF_INFERENCE, "jonatasgrosman/wav2vec2-large-xlsr-53-english"),
        ("fal-ai", "openai/whisper-large-v3"),
    ),
    # Speech, image edits and video (no hf-inference): the replicate Kokoro and mochi answers
    # and fal's mochi-v1 are recorded (huggingface.js tapes); the other pairs follow the model
    # ids huggingface_hub 2.x's provider docs and tests name (cassettes/INDEX.md: "from docs").
    "text-to-speech": (
        ("replicate", _KOKORO),
        ("fal-ai", _KOKORO),
        ("deepinfra", _KOKORO),
        ("together", "cartesia/sonic-2"),
    ),
    "image-to-image": tuple(
        (p, _KONTEXT) for p in ("fal-ai", "replicate", "together", "wavespeed")
    ),
    "text-to-video": (
        ("replicate", _MOCHI),
        ("fal-ai", _MOCHI),
        ("together", "Wan-AI/Wan2.2-T2V-A14B"),
        ("novita", "Wan-AI/Wan2.1-T2V-14B"),
        ("wavespeed", "Wan-AI/Wan2.1-T2V-14B"),
    ),
    "image-to-video": (
        ("fal-ai", _WAN_I2V),
        ("together", _WAN_I2V),
        ("wavespeed", "Wan-AI/Wan2.1-I2V-14B-480P"),
    ),
    # No provider serves these since July 2025 (hf-inference dropped them; no other provider
    # has the task): their tools are offered only with a model or endpoint the user names.
    "text2text-generation": (),
    "sentence-similarity": (),
    "ranking": (),
    "image-to-text": (),
    "visual-question-answering": (),
    "zero-shot-image-classification": (),
    "audio-classification": (),
    "document-question-answering": (),
    "tabular-classification": (),
    "tabular-regression": (),
    "audio-to-audio": (),
    # Any provider with a chat route serves a VLM; none is recorded yet: offered with a model.
    "image-text-to-text": (),
}
"""``task -> ((provider, Hub model id), ...)``, best first; the first is the task's
``default_model``. Every provider here has an adapter for the task (a test checks)."""

ROUTER_CHOOSES = frozenset({"conversational"})
"""Tasks whose call without a provider goes to the router's own OpenAI route, which picks a
provider itself: served with no provider chosen."""


def defaults_of(task: str) -> tuple[tuple[str, str], ...]:
    """``task``'s row of :data:`DEFAULT_MODELS`.

    A task added without a row (yet) is assumed served with its own ``default_model`` by
    every provider with an adapter for it (hf-inference only for hf-inference's tasks), so a
    new task module works before its defaults are recorded here.
    """
    row = DEFAULT_MODELS.get(task)
    if row is not None:
        return row
    from hf_tools.providers import providers_for

    model = REGISTRY[task].default_model
    on_hf = (HF_INFERENCE,) if hub_task(task) in HF_INFERENCE_TASKS else ()
    others = tuple(p for p in providers_for(task) if p != HF_INFERENCE)
    return tuple((p, model) for p in (*on_hf, *others)) if model else ()


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
    :data:`DEFAULT_MODELS` for the chosen provider (hf-inference when none is chosen).

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
    if provider == HF_INFERENCE and (
        task in ROUTER_CHOOSES or settings.base_url_given or settings.is_custom_endpoint
    ):
        return str(spec.default_model)
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
