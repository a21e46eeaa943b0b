"""Test helpers for code built on hf_tools (ours and yours): the ``testing`` extra.

Two parts: :mod:`hf_tools.testing.cassettes` (strict offline replay of recorded HTTP, vcrpy)
and :mod:`hf_tools.testing.chat_model` (a scripted chat model for agents, LangChain). Nothing
in hf_tools imports this package at run time but the offline demo (``hf-tools demo``): install
it with ``pip install 'hf-tools[testing]'``.
"""

from hf_tools.testing.cassettes import (
    CHAT_MATCH_ON,
    DUMMY_TOKEN,
    REPLAY_ENV,
    SECRET_HEADERS,
    Interaction,
    cassette_library,
    chat_body_matcher,
    is_recording,
    is_replaying,
    record_mode_for,
    replay,
    seed_mappings,
    use_cassette,
    vcr_config,
    write_cassette,
)
from hf_tools.testing.chat_model import ScriptedChatModel, tool_call

__all__ = [
    "CHAT_MATCH_ON",
    "DUMMY_TOKEN",
    "REPLAY_ENV",
    "SECRET_HEADERS",
    "Interaction",
    "ScriptedChatModel",
    "cassette_library",
    "chat_body_matcher",
    "is_recording",
    "is_replaying",
    "record_mode_for",
    "replay",
    "seed_mappings",
    "tool_call",
    "use_cassette",
    "vcr_config",
    "write_cassette",
]
