"""The ``hf-tools`` command: list the tools, call one or ask an agent live, replay the demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from hf_tools.artifacts import summary
from hf_tools.config import is_hf_host, stored_token
from hf_tools.errors import ConfigurationError, HFToolsError
from hf_tools.langchain.agent import DEFAULT_AGENT_MODEL
from hf_tools.langchain.toolkit import HuggingFaceToolkit
from hf_tools.tasks import REGISTRY, get_spec
from hf_tools.toolset import DEVELOPER, Tool, ToolFailure, Toolset

__all__ = [
    "add_chat_flags",
    "add_provider_flags",
    "chat_key",
    "main",
    "provider_settings",
    "schema_bytes",
    "task_ids",
]

_PLACEHOLDER_KEY = "hf_placeholder_never_sent"


def schema_bytes(tools: Toolset | HuggingFaceToolkit) -> int:
    """Bytes of every tool schema as an LLM receives them (:meth:`Toolset.schema_bytes`)."""
    toolset = tools.toolset if isinstance(tools, HuggingFaceToolkit) else tools
    return toolset.schema_bytes()


def _openai_tool(tool: Tool) -> dict[str, Any]:
    return {"type": "function", "function": tool.definition()}


def _list(ns: argparse.Namespace) -> int:
    try:
        toolset = Toolset(
            api_key=_PLACEHOLDER_KEY,
            base_url=ns.base_url,
            families=task_ids(ns.families),
            **provider_settings(ns),
        )
    except HFToolsError as exc:
        print(_setup_message(exc), file=sys.stderr)
        return 2
    tools = toolset.tools
    if ns.schema:
        try:
            one = toolset.get(ns.schema)
        except KeyError as exc:
            print(_setup_message(exc), file=sys.stderr)
            return 2
        print(json.dumps(_openai_tool(one), indent=2))
        return 0
    if ns.json:
        print(json.dumps([_openai_tool(t) for t in tools], indent=2))
        return 0
    for tool in tools:
        print(f"{tool.name:32} {tool.description}")  # one line each, as the LLM reads it
    size = toolset.schema_bytes()
    print(f"{len(tools)} tools; schemas {size} bytes (~{size // 4} tokens) per call")
    offered = set(toolset.names)
    unserved = [s.tool_name for s in REGISTRY.values() if s.tool_name not in offered]
    if unserved:
        print(
            f"not served with these settings: {', '.join(unserved)} (another --provider, or"
            " name a model: hf-tools call TOOL --model ID)"
        )
    return 0


def add_provider_flags(parser: argparse.ArgumentParser) -> None:
    """``--provider``, ``--provider-order`` and ``--bill-to``: who serves the tools, who pays."""
    parser.add_argument("--provider", help=_PROVIDER_HELP)
    parser.add_argument(
        "--provider-order",
        metavar="P1,P2",
        help="for --provider auto: the providers to consider, best first (only these)",
    )
    parser.add_argument("--bill-to", metavar="ORG", help="sent as X-HF-Bill-To (an org pays)")


def provider_settings(ns: argparse.Namespace) -> dict[str, Any]:
    """The toolkit arguments of :func:`add_provider_flags`' flags."""
    return {
        "provider": ns.provider,
        "provider_order": task_ids(ns.provider_order),
        "bill_to": ns.bill_to,
    }


def _known_task(name: str) -> bool:
    try:
        get_spec(name)
    except ConfigurationError:
        return False
    return True


def task_ids(value: str | None) -> list[str] | None:
    """A ``--tasks`` option: comma-separated task ids, spaces and empty names dropped."""
    if not value:
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


def add_chat_flags(parser: argparse.ArgumentParser) -> None:
    """``--chat-base-url``, ``--base-url`` and ``--api-key-env``: where the model and tools go."""
    parser.add_argument(
        "--chat-base-url", help="an OpenAI-compatible /v1 base for the chat model (default: HF)"
    )
    parser.add_argument("--base-url", help="a hf-inference-format server for the tools")
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the chat server's key (default: the HF token)",
    )


def chat_key(api_key_env: str | None) -> str | None:
    """The chat server's key named by ``--api-key-env`` (None without the flag).

    Raises:
        ValueError: the variable is not set; the message is the usage error to print.
    """
    if not api_key_env:
        return None
    key = os.environ.get(api_key_env)
    if not key:
        msg = f"--api-key-env {api_key_env}: that variable is not set"
        raise ValueError(msg)
    return key


def _setup_message(exc: KeyError | HFToolsError) -> str:
    """The message of a setup error, without the quotes ``str(KeyError)`` wraps it in."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def _call(ns: argparse.Namespace) -> int:
    # No token check here: Settings asks for one only when the URL is a Hugging Face host, so
    # a local endpoint (--base-url/--model URL) works without; its ConfigurationError says so.
    try:
        args = json.loads(ns.args)
    except ValueError as exc:
        print(f"--args is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(args, dict):
        kind = type(args).__name__
        print(
            f'--args must be a JSON object like \'{{"text": "..."}}\', got a {kind}',
            file=sys.stderr,
        )
        return 2
    models = {ns.tool: ns.model} if ns.model else None
    # A known task is asked for by name, so a setting that cannot serve it says what would.
    tasks = [ns.tool] if _known_task(ns.tool) else None
    try:
        toolset = Toolset(
            tasks=tasks,
            base_url=ns.base_url,
            models=models,
            output_dir=ns.output_dir,
            **provider_settings(ns),
        )
        tool = toolset.get(ns.tool)
    except (KeyError, HFToolsError) as exc:
        print(_setup_message(exc), file=sys.stderr)
        return 2
    problem = _schema_problem(tool, args)
    if problem:  # the caller typed these arguments: a usage error, not an LLM-facing one
        print(f"--args do not fit {tool.name}: {problem}", file=sys.stderr)
        return 2
    try:
        result = tool.run(args)
    except ToolFailure as failure:
        if failure.kind == DEVELOPER:
            # e.g. no token for a Hugging Face host: a usage error; auth and others: failed
            code = 2 if isinstance(failure.error, ConfigurationError) else 1
            print(failure.text if code == 2 else f"error: {failure.error}", file=sys.stderr)
            return code
        return _print_outcome(ns, "error", failure.text, None)
    return _print_outcome(ns, "success", result.text, summary(result.output))


def _print_outcome(ns: argparse.Namespace, status: str, content: str, artifact: Any) -> int:
    """What ``call`` prints: the LLM's text, and the artifact when asked (binary summarised)."""
    if ns.json:
        body = {"status": status, "content": content, "artifact": artifact}
        print(json.dumps(body, indent=2, default=str))
    else:
        print(content)
        if ns.artifact:
            print(json.dumps(artifact, indent=2, default=str))
    return 0 if status == "success" else 1


def _schema_problem(tool: Tool, args: dict[str, Any]) -> str | None:
    """Why ``args`` do not validate against the tool's argument schema, or None."""
    try:
        tool.input_model.model_validate(args)
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
    return None


def _cassette_dir(given: str | None) -> Path | None:
    if given:
        return Path(given)
    from hf_tools.testing import cassette_library

    try:
        return cassette_library()
    except FileNotFoundError:
        return None


_GO_LIVE = 'HF_TOKEN=hf_... hf-tools agent "What is said in recording.flac?"'


def _demo(ns: argparse.Namespace) -> int:
    library = _cassette_dir(ns.cassettes)
    if library is None or not (library / "agent" / "demo.yaml").is_file():
        print(
            "the demo replays recordings kept in the hf-tools checkout (cassettes/, "
            "tests/fixtures/): run it from the checkout (make demo) or pass --cassettes "
            f"/path/to/hf-tools/cassettes. To go live instead: {_GO_LIVE}",
            file=sys.stderr,
        )
        return 2
    try:
        import vcr  # noqa: F401  (the replay engine, a dev dependency)
    except ImportError:
        print("the demo replays cassettes with vcrpy: pip install 'hf-tools[dev]'", file=sys.stderr)
        return 2
    from hf_tools.demo import run_demo

    print(
        "hf-tools demo: replays a recorded agent session (cassettes/), no network, no token.\n"
        "A chat model (HFChatModel) picks Hugging Face tools; each step shows the tool it\n"
        "chose, the arguments and the short result it read back, then the final answer.\n"
        f"To go live: {_GO_LIVE}\n"
    )
    run_demo(library, sys.stdout)
    return 0


def _agent(ns: argparse.Namespace) -> int:
    if ns.max_steps < 1:
        print(f"--max-steps must be at least 1, got {ns.max_steps}", file=sys.stderr)
        return 2
    from hf_tools.langchain.agent import Agent, FinalAnswer, ModelToken, ToolEnd, ToolStart
    from hf_tools.langchain.chat import DEFAULT_CHAT_BASE_URL, HFChatModel

    chat_url = ns.chat_base_url or DEFAULT_CHAT_BASE_URL
    try:
        key = chat_key(ns.api_key_env)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if key is None and is_hf_host(chat_url) and stored_token() is None:
        print(
            f"hf-tools agent needs a token for {chat_url}: export HF_TOKEN=hf_... or run "
            f"`hf auth login` ({_GO_LIVE}); a local model needs none (--chat-base-url)",
            file=sys.stderr,
        )
        return 2
    try:
        toolkit = HuggingFaceToolkit(
            tasks=task_ids(ns.tasks),
            output_dir=ns.output_dir,
            base_url=ns.base_url,
            **provider_settings(ns),
        )
        secret = SecretStr(key) if key else None
        # An organization that pays for the tools pays for the model's turns too.
        model = HFChatModel(model=ns.model, base_url=chat_url, api_key=secret, bill_to=ns.bill_to)
    except (KeyError, HFToolsError) as exc:
        print(_setup_message(exc), file=sys.stderr)
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
                print(f"  {'->' if event.status == 'success' else '!!'} {event.content}")
            elif isinstance(event, FinalAnswer) and event.result.stopped_reason != "answer":
                print(event.result.answer)
                return 1
    except ConfigurationError as exc:  # e.g. the tools go to Hugging Face without a token
        print(str(exc), file=sys.stderr)
        return 2
    except HFToolsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


_PROVIDER_HELP = "auto, hf-inference, fal-ai, replicate, ... (default: hf-inference, no Hub lookup)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 call failed, 2 usage)."""
    parser = argparse.ArgumentParser(prog="hf-tools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser(
        "list", help="the tools these settings serve, one line each, and the schema size"
    )
    listing.add_argument("--json", action="store_true", help="every tool schema as JSON")
    listing.add_argument("--schema", metavar="TOOL", help="one tool's schema as JSON")
    listing.add_argument("--base-url", help="a hf-inference-format server (default: the router)")
    listing.add_argument(
        "--families", metavar="F1,F2", help="offer only these families: text,vision,audio,..."
    )
    add_provider_flags(listing)
    call = sub.add_parser(
        "call", help="call one tool live (HF_TOKEN for Hugging Face hosts; not for your endpoint)"
    )
    call.add_argument("tool", help="tool name or task id, e.g. text_classification")
    call.add_argument("--args", required=True, help="tool arguments as a JSON object")
    call.add_argument("--model", help="model id or endpoint URL for this tool")
    call.add_argument("--base-url", help="a hf-inference-format server (default: the router)")
    call.add_argument("--output-dir", type=Path, help="save generated images, masks, audio here")
    add_provider_flags(call)
    call.add_argument("--artifact", action="store_true", help="also print the artifact")
    call.add_argument(
        "--json", action="store_true", help="print {status, content, artifact} as JSON"
    )
    agent = sub.add_parser("agent", help="ask a chat model that uses the tools (live)")
    agent.add_argument("request", help="what to ask, e.g. 'Transcribe talk.flac'")
    agent.add_argument(
        "--model", default=DEFAULT_AGENT_MODEL, help="chat model org/name[:provider]"
    )
    add_chat_flags(agent)
    agent.add_argument(
        "--tasks", help="comma-separated task ids to offer (default: all the settings serve)"
    )
    add_provider_flags(agent)
    agent.add_argument("--max-steps", type=int, default=8, help="model calls at most (8)")
    agent.add_argument("--output-dir", type=Path, help="where masks and images are saved")
    demo = sub.add_parser("demo", help="offline replay of a recorded agent session")
    demo.add_argument("--cassettes", help="cassette folder (default: the checkout's)")
    sub.add_parser("mcp", help="serve the tools over MCP: stdio, or --http (see mcp --help)")
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["mcp"]:  # its own flags (hf_tools.mcp.cli)
        from hf_tools.mcp.cli import main as mcp_main

        return mcp_main(args[1:])
    ns = parser.parse_args(args)
    handlers = {"list": _list, "call": _call, "agent": _agent, "demo": _demo}
    return handlers[ns.command](ns)


if __name__ == "__main__":
    sys.exit(main())
