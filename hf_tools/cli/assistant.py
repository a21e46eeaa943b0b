"""``hf-tools assistant``: its flags here, its chat in :mod:`hf_tools.assistant` (which runs it).

The flags import nothing heavy, so ``hf-tools assistant --help`` prints without loading
LangChain; the chat and its agent load when the command runs.
"""

from __future__ import annotations

import argparse

from hf_tools.cli.flags import (
    CHOSEN_ROOTS_HELPS,
    TASKS,
    add_chat_flags,
    add_flags,
    add_settings_flags,
)
from hf_tools.defaults import DEFAULT_AGENT_MODEL

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the assistant's flags to ``parser`` (the ``assistant`` subcommand's)."""
    parser.add_argument(
        "--model", help=f"chat model org/name[:provider] (default {DEFAULT_AGENT_MODEL})"
    )
    add_chat_flags(parser)
    add_flags(parser, [TASKS])
    add_settings_flags(parser, helps=CHOSEN_ROOTS_HELPS)
    parser.add_argument(
        "--no-history", action="store_true", help="do not keep ~/.cache/hf-tools/ history"
    )
