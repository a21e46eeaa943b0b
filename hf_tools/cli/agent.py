"""``hf-tools agent REQUEST``: a chat model that uses the tools, streamed to the terminal."""

from __future__ import annotations

import argparse
import json
import sys

from hf_tools.cli.flags import (
    CHOSEN_ROOTS_HELPS,
    DEFAULT_OUTPUT_DIR,
    TASKS,
    add_chat_flags,
    add_flags,
    add_settings_flags,
    chat_key,
    chosen_roots,
    settings_from,
    task_ids,
)
from hf_tools.cli.messages import error_text, for_person
from hf_tools.defaults import DEFAULT_AGENT_MODEL

__all__ = ["GO_LIVE", "configure", "run"]

GO_LIVE = 'HF_TOKEN=hf_... hf-tools agent "What is said in recording.flac?"'


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags of ``agent``."""
    parser.add_argument("request", help="what to ask, e.g. 'Transcribe talk.flac'")
    parser.add_argument(
        "--model", default=DEFAULT_AGENT_MODEL, help="chat model org/name[:provider]"
    )
    add_chat_flags(parser)
    add_flags(parser, [TASKS])
    parser.add_argument("--max-steps", type=int, default=8, help="model calls at most (8)")
    add_settings_flags(parser, helps=CHOSEN_ROOTS_HELPS)


def run(ns: argparse.Namespace) -> int:
    """Ask the agent; 0 when it answered, 1 when it stopped short, 2 for a usage error."""
    from pydantic import SecretStr

    from hf_tools.errors import ConfigurationError, HFToolsError
    from hf_tools.langchain.agent import Agent, FinalAnswer, ModelToken, ToolEnd, ToolStart
    from hf_tools.langchain.chat import DEFAULT_CHAT_BASE_URL, HFChatModel
    from hf_tools.langchain.toolkit import HuggingFaceToolkit

    if ns.max_steps < 1:
        print(f"--max-steps must be at least 1, got {ns.max_steps}", file=sys.stderr)
        return 2
    chat_url = ns.chat_base_url or DEFAULT_CHAT_BASE_URL
    try:
        key = chat_key(ns.api_key_env)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    settings = settings_from(ns)
    settings.setdefault("output_dir", DEFAULT_OUTPUT_DIR)
    try:
        toolkit = HuggingFaceToolkit(
            tasks=task_ids(ns.tasks), allowed_roots=chosen_roots(ns), **settings
        )
        # A key from --api-key-env is the chat server's; tools on Hugging Face need a token.
        toolkit.toolset.require_token(*([] if key else [chat_url]))
        secret = SecretStr(key) if key else None
        # An organization that pays for the tools pays for the model's turns too.
        model = HFChatModel(
            model=ns.model,
            base_url=chat_url,
            api_key=secret,
            bill_to=ns.bill_to,
            timeout=settings.get("timeout", 60.0),
        )
    except (KeyError, HFToolsError) as exc:
        print(error_text(exc), file=sys.stderr)
        return 2
    agent = Agent(model, toolkit.get_tools(), max_steps=ns.max_steps)
    mid_line = False
    try:
        for event in agent.stream_events(ns.request):
            if isinstance(event, ModelToken):
                print(event.text, end="", flush=True)
                mid_line = True
                continue
            if mid_line:
                print()
                mid_line = False
            if isinstance(event, ToolStart):
                print(f"[tool] {event.name}({json.dumps(event.args, ensure_ascii=False)[:200]})")
            elif isinstance(event, ToolEnd):
                mark = "->" if event.status == "success" else "!!"
                print(f"  {mark} {for_person(event.content)}")
            elif isinstance(event, FinalAnswer) and event.result.stopped_reason != "answer":
                print(event.result.answer)
                return 1
    except ConfigurationError as exc:  # e.g. the tools go to Hugging Face without a token
        print(error_text(exc), file=sys.stderr)
        return 2
    except HFToolsError as exc:
        print(f"error: {error_text(exc)}", file=sys.stderr)
        return 1
    return 0
