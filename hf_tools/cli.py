"""The ``hf-tools`` command: list the tools, call one live, or replay the offline demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from hf_tools.config import RetryPolicy
from hf_tools.errors import HFToolsError
from hf_tools.tasks import REGISTRY
from hf_tools.toolkit import HuggingFaceToolkit

__all__ = ["main", "schema_bytes"]

_PLACEHOLDER_KEY = "hf_placeholder_never_sent"


def schema_bytes(toolkit: HuggingFaceToolkit) -> int:
    """Bytes of every tool schema as an LLM receives them (OpenAI tool format, compact JSON)."""
    return sum(
        len(json.dumps(convert_to_openai_tool(t), separators=(",", ":")))
        for t in toolkit.get_tools()
    )


def _list(_: argparse.Namespace) -> int:
    toolkit = HuggingFaceToolkit(api_key=_PLACEHOLDER_KEY)
    for tool in toolkit.get_tools():
        print(f"{tool.name:32} {tool.description.split('. ')[0].rstrip('.')}")
    size = schema_bytes(toolkit)
    print(f"{len(toolkit.get_tools())} tools; schemas {size} bytes (~{size // 4} tokens) per call")
    return 0


def _summary(value: Any) -> Any:
    """JSON-safe artifact with binary fields summarised, never dumped."""
    if isinstance(value, BaseModel):
        return _summary(value.model_dump())
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _summary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_summary(v) for v in value]
    return value


def _call(ns: argparse.Namespace) -> int:
    if not os.environ.get("HF_TOKEN"):
        print("hf-tools call needs a token: export HF_TOKEN=hf_...", file=sys.stderr)
        return 2
    try:
        args = json.loads(ns.args)
    except ValueError as exc:
        print(f"--args is not valid JSON: {exc}", file=sys.stderr)
        return 2
    models = {ns.tool.replace("_", "-"): ns.model} if ns.model else None
    try:
        toolkit = HuggingFaceToolkit(base_url=ns.base_url, models=models)
        tool = toolkit.get_tool(ns.tool)
    except (KeyError, HFToolsError) as exc:
        print(str(exc).strip("'\""), file=sys.stderr)
        return 2
    try:
        msg = tool.invoke({"name": tool.name, "args": args, "id": "cli", "type": "tool_call"})
    except HFToolsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    assert isinstance(msg, ToolMessage)
    print(msg.content)
    if ns.artifact:
        print(json.dumps(_summary(msg.artifact), indent=2, default=str))
    return 0 if msg.status == "success" else 1


def _cassette_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    here = Path.cwd() / "cassettes"
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "cassettes"


def _replay(
    toolkit: HuggingFaceToolkit, library: Path, cassette: str, name: str, args: Any
) -> None:
    from hf_tools.testing import use_cassette

    tool = toolkit.get_tool(name)
    with use_cassette(cassette, library_dir=library):
        msg = tool.invoke({"name": name, "args": args, "id": "demo", "type": "tool_call"})
    assert isinstance(msg, ToolMessage)
    print(f"\n> {name}({json.dumps(args, ensure_ascii=False)[:160]})")
    print(f"  [{msg.status}] artifact: {type(msg.artifact).__name__}")
    for line in str(msg.content).splitlines()[:8]:
        print(f"  {line[:160]}")


def _demo(ns: argparse.Namespace) -> int:
    library = _cassette_dir(ns.cassettes)
    if not library.is_dir():
        print(f"no cassettes folder at {library}; run from the hf-tools checkout", file=sys.stderr)
        return 2
    print(
        "hf-tools demo: replays recorded Hugging Face API interactions (cassettes/), no network.\n"
        "Each block shows the tool call an LLM made and the text it reads back.\n"
        "To go live: export HF_TOKEN=hf_...; "
        'hf-tools call text_classification --args \'{"text": "I like you"}\''
    )
    root = library.resolve().parent
    # Retries still happen, but a recorded 20 s "model loading" wait is cut short in the demo.
    fast = RetryPolicy(max_loading_wait=0.5, max_retry_after=0.5)
    toolkit = HuggingFaceToolkit(api_key="hf_demo", allowed_roots=[root], retry=fast)
    for spec in REGISTRY.values():
        if (library / spec.task / "success.yaml").is_file() and not spec.needs_endpoint:
            _replay(toolkit, library, f"{spec.task}/success.yaml", spec.tool_name, spec.example)
    print("\n--- errors the LLM can act on ---")
    args = {"text": "I like you", "top_k": 500}
    _replay(toolkit, library, "client/400-error-list.yaml", "text_classification", args)
    args = {"text": "I like you"}
    _replay(toolkit, library, "client/503-loading-then-200.yaml", "text_classification", args)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 call failed, 2 usage)."""
    parser = argparse.ArgumentParser(prog="hf-tools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="tools, one line each, and the schema size an LLM pays")
    call = sub.add_parser("call", help="call one tool against the live API (needs HF_TOKEN)")
    call.add_argument("tool")
    call.add_argument("--args", required=True, help="tool arguments as JSON")
    call.add_argument("--model", help="model id or endpoint URL")
    call.add_argument("--base-url")
    call.add_argument("--artifact", action="store_true", help="also print the artifact")
    demo = sub.add_parser("demo", help="offline replay of recorded calls")
    demo.add_argument("--cassettes", help="cassette folder (default ./cassettes)")
    ns = parser.parse_args(argv)
    handlers = {"list": _list, "call": _call, "demo": _demo}
    return handlers[ns.command](ns)


if __name__ == "__main__":
    sys.exit(main())
