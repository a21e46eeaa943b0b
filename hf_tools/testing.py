"""Cassette helpers for tests of code built on hf_tools (ours and yours).

Replay is offline and strict: record mode ``none`` unless ``HF_TOOLS_RECORD=1``; requests match
on method, URI and body; the authorization header and cookies never reach a cassette.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_tools.http import HFRequest

__all__ = [
    "DUMMY_TOKEN",
    "Interaction",
    "SECRET_HEADERS",
    "is_recording",
    "use_cassette",
    "vcr_config",
    "write_cassette",
]

DUMMY_TOKEN = "hf_dummy_token"
SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "x-api-key")


def is_recording() -> bool:
    """True when tests should talk to the live API and rewrite cassettes (``make record``)."""
    return os.environ.get("HF_TOOLS_RECORD") == "1"


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SECRET_HEADERS:
            del headers[name]
    return response


def vcr_config(library_dir: str | Path = "cassettes", **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR``: strict replay, secrets filtered on record."""
    config: dict[str, Any] = {
        "cassette_library_dir": str(library_dir),
        "record_mode": "all" if is_recording() else "none",
        "match_on": ["method", "uri", "body"],
        "filter_headers": list(SECRET_HEADERS),
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
    }
    config.update(overrides)
    return config


@contextmanager
def use_cassette(
    path: str | Path,
    library_dir: str | Path = "cassettes",
    *,
    all_played: bool = True,
    **overrides: Any,
) -> Iterator[Any]:
    """Replay (or, when recording, write) one cassette; yields the vcrpy Cassette.

    On exit in replay mode, fails if an interaction of the cassette was not played (unless
    ``all_played=False``): a cassette that is only half used means the test no longer checks
    what it says it does.
    """
    import vcr

    repeats = bool(overrides.pop("allow_playback_repeats", False))
    recorder = vcr.VCR(**vcr_config(library_dir, **overrides))
    with recorder.use_cassette(str(path), allow_playback_repeats=repeats) as cassette:
        yield cassette
    if all_played and not is_recording() and not cassette.all_played:
        msg = f"cassette {path} was not fully played ({cassette.play_count}/{len(cassette)})"
        raise AssertionError(msg)


@dataclass
class Interaction:
    """One request/response pair to write into a cassette."""

    request: HFRequest
    status: int = 200
    body: bytes | str | Any = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"  # GET for a media download replayed next to the inference call


def _body_text(body: bytes | str | Any) -> str | bytes:
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body
    if isinstance(body, str):
        return body
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def write_cassette(path: str | Path, interactions: Sequence[Interaction]) -> Path:
    """Write a vcrpy cassette for requests built by hf_tools (authorization stripped).

    Used to turn recorded Hugging Face responses into cassettes that match what we send
    today; see ``scripts/make_cassette.py``.
    """
    import yaml

    out = []
    for item in interactions:
        req = item.request
        headers = {k: [v] for k, v in req.headers.items() if k.lower() not in SECRET_HEADERS}
        ctype = req.headers.get("content-type", "")
        body: Any = req.content.decode("utf-8") if ctype == "application/json" else req.content
        resp_headers = {k: [v] for k, v in item.headers.items()}
        if not any(k.lower() == "content-type" for k in resp_headers):
            resp_headers["content-type"] = ["application/json"]
        out.append(
            {
                "request": {
                    "body": body,
                    "headers": headers,
                    "method": item.method,
                    "uri": req.url,
                },
                "response": {
                    "body": {"string": _body_text(item.body)},
                    "headers": resp_headers,
                    "status": {"code": item.status, "message": _REASONS.get(item.status, "")},
                },
            }
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        {"interactions": out, "version": 1}, sort_keys=False, allow_unicode=True, width=100
    )
    target.write_text(text, encoding="utf-8")
    return target


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
