"""The task registry: one line per task, in the order tools are offered to an LLM.

Adding a task = one module here, one line below, one folder in ``cassettes/``.
"""

from __future__ import annotations

from typing import Any

from hf_tools.errors import ConfigurationError
from hf_tools.tasks import (
    text_classification,
)
from hf_tools.tasks._base import TaskSpec

__all__ = ["REGISTRY", "TaskSpec", "get_spec"]

REGISTRY: dict[str, TaskSpec[Any, Any]] = {spec.task: spec for spec in (text_classification.SPEC,)}


def get_spec(task: str) -> TaskSpec[Any, Any]:
    """The spec of a task id (``text-classification``) or tool name (``text_classification``).

    Raises:
        ConfigurationError: unknown task; the message lists the known ones.
    """
    spec = REGISTRY.get(task) or REGISTRY.get(task.replace("_", "-"))
    if spec is None:
        msg = f"unknown task {task!r}; known tasks: {', '.join(REGISTRY)}"
        raise ConfigurationError(msg)
    return spec
