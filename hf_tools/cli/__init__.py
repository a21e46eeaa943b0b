"""The ``hf-tools`` command: one subcommand a job, each imported only when it runs.

``main`` is the entry point; :data:`hf_tools.cli.entry.COMMANDS` names every subcommand's
module: this package's own (list, call, agent, models, demo) and the apps' (the assistant,
the chatbot server, the MCP server). The apps build their command lines from the one table of
flags, :mod:`hf_tools.cli.flags`; the names below stay importable from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hf_tools.cli.entry import main

if TYPE_CHECKING:
    from hf_tools.cli.flags import (
        add_chat_flags,
        add_provider_flags,
        add_settings_flags,
        chat_key,
        provider_settings,
        settings_from,
        task_ids,
    )
    from hf_tools.cli.listing import schema_bytes

__all__ = [
    "add_chat_flags",
    "add_provider_flags",
    "add_settings_flags",
    "chat_key",
    "main",
    "provider_settings",
    "schema_bytes",
    "settings_from",
    "task_ids",
]

_LAZY = {name: "hf_tools.cli.flags" for name in __all__ if name not in ("main", "schema_bytes")}
_LAZY["schema_bytes"] = "hf_tools.cli.listing"


def __getattr__(name: str) -> Any:
    """Load a helper's module when the helper is first asked for."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'hf_tools.cli' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
