"""Who serves which task: hf-inference's tasks and the provider adapters, as a README table."""

from __future__ import annotations

from hf_tools.providers import providers_for
from hf_tools.routing import hub_task
from hf_tools.tasks import REGISTRY

__all__ = ["HF_INFERENCE_TASKS", "provider_table"]

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


def provider_table() -> str:
    """The README's markdown table: per tool, whether hf-inference serves it, which adapters."""
    lines = [
        "| tool | Hub task | hf-inference | other providers (hf-tools adapters) |",
        "|---|---|---|---|",
    ]
    for spec in REGISTRY.values():
        if spec.needs_endpoint:
            continue
        served = "yes" if hub_task(spec.task) in HF_INFERENCE_TASKS else "no models"
        others = ", ".join(providers_for(spec.task)) or "-"
        lines.append(f"| `{spec.tool_name}` | {hub_task(spec.task)} | {served} | {others} |")
    return "\n".join(lines) + "\n"
