"""``hf-tools models TASK``: the Hub's models that serve a task, so no model id is guessed.

``GET {hub_url}/api/models?pipeline_tag=TASK&inference_provider=P&limit=N``, sent like every
other request (the one send path, the call's deadline, the JSON cap).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlencode

from hf_tools.cli.flags import add_settings_flags, settings_from
from hf_tools.cli.messages import error_text

__all__ = ["configure", "models_url", "run"]

DEFAULT_LIMIT = 20


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags of ``models``."""
    parser.add_argument(
        "task", help="task id or tool name, e.g. text-to-speech (any Hub pipeline tag works)"
    )
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"models at most ({DEFAULT_LIMIT})"
    )
    parser.add_argument("--json", action="store_true", help="the Hub's answer as JSON")
    add_settings_flags(parser)


def models_url(hub_url: str, pipeline_tag: str, provider: str | None, limit: int) -> str:
    """The Hub's model search for one task and provider (``all``: any provider)."""
    chosen = "all" if provider in (None, "auto") else provider
    query = urlencode({"pipeline_tag": pipeline_tag, "inference_provider": chosen, "limit": limit})
    return f"{hub_url.rstrip('/')}/api/models?{query}"


def _pipeline_tag(name: str) -> str:
    """The Hub's tag of a task id or tool name; any other text is taken as a tag."""
    from hf_tools.errors import ConfigurationError
    from hf_tools.routing import hub_task
    from hf_tools.tasks import get_spec

    try:
        return hub_task(get_spec(name).task)
    except ConfigurationError:
        return name


def _fetch(settings: Any, url: str) -> Any:
    from hf_tools.client import HFClient
    from hf_tools.flow import hub_request
    from hf_tools.http import decode_body, redacting

    request = hub_request(settings, url)
    with HFClient(settings=settings) as client:
        raw = client.send(request)
    with redacting(request):
        return decode_body(raw, request)


def run(ns: argparse.Namespace) -> int:
    """List the models; 1 when the Hub cannot answer, 2 for a usage error."""
    from hf_tools.config import Settings
    from hf_tools.errors import ConfigurationError, HFToolsError

    if ns.limit < 1:
        print(f"--limit must be at least 1, got {ns.limit}", file=sys.stderr)
        return 2
    try:
        settings = Settings.create(**settings_from(ns))
    except ConfigurationError as exc:
        print(error_text(exc), file=sys.stderr)
        return 2
    tag = _pipeline_tag(ns.task)
    url = models_url(settings.hub_url, tag, settings.provider, ns.limit)
    try:
        found = _fetch(settings, url)
    except HFToolsError as exc:
        print(f"error: {error_text(exc)}", file=sys.stderr)
        return 1
    if not isinstance(found, list):
        print(f"error: the Hub answered {type(found).__name__}, not a list", file=sys.stderr)
        return 1
    if ns.json:
        print(json.dumps(found, indent=2))
        return 0
    where = settings.provider if settings.provider not in (None, "auto") else "any provider"
    for item in found:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            downloads, likes = item.get("downloads", "?"), item.get("likes", "?")
            print(f"{item['id']:56} {downloads:>10} downloads {likes:>6} likes")
    tool, provider = tag.replace("-", "_"), settings.provider or "auto"
    print(
        f"{len(found)} models for {tag} on {where} (the Hub's order). Use one:"
        f" hf-tools call {tool} --model ID --provider {provider} --args '{{...}}'"
    )
    return 0
