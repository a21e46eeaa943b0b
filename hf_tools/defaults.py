"""Defaults the command line's ``--help`` names, in a module that imports nothing.

:mod:`hf_tools.config` re-exports them; it imports pydantic and every task, which a
``--help`` must not wait for.
"""

from __future__ import annotations

__all__ = ["DEFAULT_AGENT_MODEL"]

# The chat model agents use unless told (hf_tools.langchain.agent; the CLI's --help names it).
DEFAULT_AGENT_MODEL = "Qwen/Qwen2.5-72B-Instruct"
