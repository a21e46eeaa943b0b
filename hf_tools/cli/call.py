"""``hf-tools call TOOL --args JSON``: one tool, live, with the arguments a person typed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from hf_tools.cli.flags import DEFAULT_OUTPUT_DIR, add_settings_flags, settings_from, typed_roots
from hf_tools.cli.messages import error_text, for_person

if TYPE_CHECKING:
    from hf_tools.toolset import Tool

__all__ = ["configure", "run"]

_HELPS = {
    "--allow-files": "let the tools read local media from DIR too (repeatable; the files"
    " named in --args are readable wherever they are)",
}


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags of ``call``."""
    parser.add_argument("tool", help="tool name or task id, e.g. text_classification")
    parser.add_argument("--args", required=True, help="tool arguments as a JSON object")
    parser.add_argument("--model", help="model id or endpoint URL for this tool")
    parser.add_argument("--artifact", action="store_true", help="also print the artifact")
    parser.add_argument(
        "--json", action="store_true", help="print {status, content, artifact} as JSON"
    )
    add_settings_flags(parser, helps=_HELPS)


def _known_task(name: str) -> bool:
    from hf_tools.errors import ConfigurationError
    from hf_tools.tasks import get_spec

    try:
        get_spec(name)
    except ConfigurationError:
        return False
    return True


def _schema_problem(tool: Tool, args: dict[str, Any]) -> str | None:
    """Why ``args`` do not validate against the tool's argument schema, or None."""
    from pydantic import ValidationError

    try:
        tool.input_model.model_validate(args)
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
    return None


def run(ns: argparse.Namespace) -> int:
    """Call the tool; 0 when it succeeded, 1 when the call failed, 2 for a usage error."""
    from hf_tools.artifacts import summary
    from hf_tools.errors import ConfigurationError, HFToolsError
    from hf_tools.toolset import DEVELOPER, ToolFailure, Toolset

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
    settings = settings_from(ns)
    if ns.model:
        settings["models"] = {**settings.get("models", {}), ns.tool: ns.model}
    settings.setdefault("output_dir", DEFAULT_OUTPUT_DIR)  # generated media are never dropped
    # A known task is asked for by name, so a setting that cannot serve it says what would.
    tasks = [ns.tool] if _known_task(ns.tool) else None
    try:
        toolset = Toolset(tasks=tasks, allowed_roots=typed_roots(ns, args), **settings)
        tool = toolset.get(ns.tool)
    except (KeyError, HFToolsError) as exc:
        print(error_text(exc), file=sys.stderr)
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
            if isinstance(failure.error, ConfigurationError):
                print(error_text(failure.error), file=sys.stderr)
                return 2
            error = failure.error
            text = error_text(error) if isinstance(error, HFToolsError) else failure.text
            print(f"error: {text}", file=sys.stderr)
            return 1
        return _print_outcome(ns, "error", for_person(failure.text), None)
    return _print_outcome(ns, "success", for_person(result.text), summary(result.output))


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
