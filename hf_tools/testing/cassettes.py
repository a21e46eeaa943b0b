"""Cassette helpers for tests of code built on hf_tools (ours and yours).

Replay is offline and strict: record mode ``none`` unless ``HF_TOOLS_RECORD=1``; requests match
on method, URI and body; the authorization header and cookies never reach a cassette.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from hf_tools.http import HFRequest

__all__ = [
    "CHAT_MATCH_ON",
    "DUMMY_TOKEN",
    "REPLAY_ENV",
    "SECRET_HEADERS",
    "Interaction",
    "cassette_library",
    "chat_body_matcher",
    "is_recording",
    "is_replaying",
    "record_mode_for",
    "replay",
    "seed_mappings",
    "use_cassette",
    "vcr_config",
    "write_cassette",
]

DUMMY_TOKEN = "hf_dummy_token"
SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "x-api-key")


REPLAY_ENV = "HF_TOOLS_REPLAY"
# Agent replays: chat turns match on the conversation and tool names, other bodies exactly.
CHAT_MATCH_ON = ["method", "uri", "chat_body"]


def is_replaying() -> bool:
    """True when examples and agents should replay recordings instead of going live."""
    return os.environ.get(REPLAY_ENV) == "1"


def cassette_library(library_dir: str | Path | None = None) -> Path:
    """The cassettes folder every helper here uses (``replay``, ``use_cassette``...).

    ``library_dir`` when given; else ``$HF_TOOLS_CASSETTES``; else ``./cassettes``; else the
    hf-tools checkout's (when this package runs from one). Cassettes live in the repository,
    not in the installed package, so replaying ours needs a checkout; the error says so.

    Raises:
        FileNotFoundError: none of those folders exists.
    """
    if library_dir is not None:
        return Path(library_dir)
    if env := os.environ.get("HF_TOOLS_CASSETTES"):
        return Path(env)
    here = Path.cwd() / "cassettes"
    if here.is_dir():
        return here
    checkout = Path(__file__).resolve().parents[2] / "cassettes"
    if (checkout / "INDEX.md").is_file():
        return checkout
    msg = (
        "no cassettes folder found: replays need the hf-tools checkout (run from it, or set "
        "HF_TOOLS_CASSETTES=/path/to/hf-tools/cassettes)"
    )
    raise FileNotFoundError(msg)


@contextmanager
def replay(*cassettes: str | Path, library_dir: str | Path | None = None) -> Iterator[None]:
    """Run the block against recorded cassettes when ``HF_TOOLS_REPLAY=1``; live otherwise.

    While replaying, ``HF_TOKEN`` is a dummy value (no real token is needed or used) and
    every request must match a recording: nothing reaches the network.

    Example:
        ```python
        with replay("text-classification/success.yaml"):
            toolkit = HuggingFaceToolkit()
            print(toolkit.get_tool("text_classification").invoke({"text": "I like you"}))
        ```
    """
    if not is_replaying():
        yield
        return
    library = cassette_library(library_dir)
    previous = os.environ.get("HF_TOKEN")
    os.environ["HF_TOKEN"] = DUMMY_TOKEN
    try:
        with use_cassette(*cassettes, library_dir=library, match_on=CHAT_MATCH_ON):
            yield
    finally:
        if previous is None:
            os.environ.pop("HF_TOKEN", None)
        else:
            os.environ["HF_TOKEN"] = previous


def _json_body(request: Any) -> Any:
    body = request.body
    try:
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None


def chat_body_matcher(r1: Any, r2: Any) -> None:
    """Match chat bodies by conversation and tool names (``match_on=[..., "chat_body"]``).

    A chat completion request carries every tool's full schema; rewording a tool description
    should not invalidate a recorded agent run, while a change in the messages (what the
    model saw) or in which tools were offered must. Other bodies must be equal.

    Raises:
        AssertionError: the bodies differ (vcrpy's matcher protocol).
    """
    a, b = _json_body(r1), _json_body(r2)
    if isinstance(a, dict) and isinstance(b, dict) and "messages" in a and "messages" in b:
        for body in (a, b):
            body["tools"] = [t.get("function", {}).get("name") for t in body.get("tools", [])]
        assert a == b, "chat bodies differ (messages, parameters or tool names)"
        return
    if a is not None and b is not None:
        assert a == b, "JSON bodies differ"
        return
    assert _raw(r1.body) == _raw(r2.body), "bodies differ"


def _raw(body: Any) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def is_recording() -> bool:
    """True when tests should talk to the live API and rewrite cassettes (``make record``)."""
    return os.environ.get("HF_TOOLS_RECORD") == "1"


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SECRET_HEADERS:
            del headers[name]
    return response


@functools.cache
def _replayed_only(index: Path) -> frozenset[str]:
    """Cassettes an ``INDEX.md`` table marks ``replayed``: hand-built, never re-recorded."""
    if not index.is_file():
        return frozenset()
    names = set()
    for line in index.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[-1] == "replayed":
            names.add(cells[0])
    return frozenset(names)


def record_mode_for(paths: Sequence[str | Path], library_dir: str | Path | None = None) -> str:
    """The vcrpy record mode of a ``use_cassette`` call: ``"all"`` or ``"none"`` (replay).

    ``"all"`` (re-record live) only under ``make record`` and for one cassette that came from
    the live API. Hand-built cassettes (written from the docs, error scenarios a live service
    will not reproduce on demand) are marked ``replayed`` in the library's ``INDEX.md`` and
    always replay, as do several cassettes replayed together.
    """
    if not is_recording() or len(paths) != 1:
        return "none"
    replayed = _replayed_only(cassette_library(library_dir) / "INDEX.md")
    return "none" if Path(paths[0]).as_posix() in replayed else "all"


def _named_host(request: Any) -> Any:
    """File a request sent to a checked address under the host it names (its Host header).

    The downloader connects to the address it checked (``https://93.184.216.34/...``, Host
    ``fal.media``): cassettes keep the name, and replays match whatever the name resolves to.
    """
    host = request.headers.get("host")
    parts = urlsplit(request.uri)
    if host and parts.netloc != host:
        request.uri = urlunsplit(parts._replace(netloc=host))
    return request


def vcr_config(library_dir: str | Path = "cassettes", **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR``: strict replay, secrets filtered on record."""
    config: dict[str, Any] = {
        "cassette_library_dir": str(library_dir),
        "record_mode": "all" if is_recording() else "none",  # use_cassette refines this
        "match_on": ["method", "uri", "body"],
        "filter_headers": list(SECRET_HEADERS),
        "before_record_request": _named_host,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
    }
    config.update(overrides)
    return config


@contextmanager
def use_cassette(
    *paths: str | Path,
    library_dir: str | Path | None = None,
    all_played: bool = True,
    **overrides: Any,
) -> Iterator[Any]:
    """Replay (or, when recording, write) cassettes; yields the vcrpy Cassette.

    Several paths replay their interactions as one cassette (vcrpy cannot nest them), e.g.
    the chat turns of an agent run plus the task cassettes of the tools it calls; that is
    replay only.

    On exit in replay mode, fails if an interaction was not played (unless
    ``all_played=False``): a cassette that is only half used means the test no longer checks
    what it says it does.
    """
    import tempfile

    import vcr
    import yaml

    if not paths:
        msg = "use_cassette needs at least one cassette path"
        raise TypeError(msg)
    folder = cassette_library(library_dir)
    repeats = bool(overrides.pop("allow_playback_repeats", False))
    if overrides.get("record_mode", record_mode_for(paths, folder)) == "none":
        # vcrpy would report "Can't overwrite existing cassette" for a file that is not there.
        missing = [str(p) for p in paths if not (folder / p).is_file()]
        if missing:
            msg = (
                f"cassette(s) {', '.join(missing)} not found in {folder.resolve()} "
                "(replays need the hf-tools checkout's cassettes/, or HF_TOOLS_CASSETTES)"
            )
            raise FileNotFoundError(msg)
    with tempfile.TemporaryDirectory(prefix="hf-tools-cassettes-") as tmp:
        if len(paths) == 1:
            path, library = str(paths[0]), str(folder)
        else:
            interactions: list[Any] = []
            for item in paths:
                text = (folder / item).read_text(encoding="utf-8")
                interactions += yaml.safe_load(text)["interactions"]
            path, library = "merged.yaml", tmp
            merged = {"interactions": interactions, "version": 1}
            (Path(tmp) / path).write_text(yaml.safe_dump(merged), encoding="utf-8")
        overrides.setdefault("record_mode", record_mode_for(paths, folder))
        recorder = vcr.VCR(**vcr_config(library, **overrides))
        recorder.register_matcher("chat_body", chat_body_matcher)
        with recorder.use_cassette(path, allow_playback_repeats=repeats) as cassette:
            if overrides["record_mode"] != "none":
                yield cassette
            else:
                _seed_from(cassette, folder)
                with _resolved_from(cassette):
                    yield cassette
    if all_played and overrides["record_mode"] == "none" and not cassette.all_played:
        names = ", ".join(str(p) for p in paths)
        msg = f"cassette {names} was not fully played ({cassette.play_count}/{len(cassette)})"
        raise AssertionError(msg)


MAPPINGS_FILE = "mappings.json"
"""In a cassettes folder: ``{model: [Hub mapping entries]}``, the mapping each hf-inference
cassette was recorded under (``scripts/make_mappings.py`` writes ours)."""

_HF_INFERENCE_CALL = re.compile(
    r"^https://router\.huggingface\.co/hf-inference/models/(.+?)(?:/pipeline/|$)"
)
_HUB_LOOKUP = re.compile(r"^https://huggingface\.co/api/models/([^?]+)\?")


@functools.cache
def _mappings(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


def seed_mappings(
    models: Sequence[str] | None = None, library_dir: str | Path | None = None
) -> list[str]:
    """Put the recorded Hub mappings of ``models`` (default: all) in the process's cache.

    The default provider, "auto", asks the Hub who serves a model before its first call; with
    the mapping cached, a replay or an offline test makes no such request. Reads
    ``mappings.json`` in the cassettes folder; returns the models seeded.
    """
    from hf_tools.routing import DEFAULT_HUB_URL, MAPPINGS, mapping_url

    known = _mappings(cassette_library(library_dir) / MAPPINGS_FILE)
    seeded = [m for m in (known if models is None else models) if m in known]
    for model in seeded:
        body = {"inferenceProviderMapping": known[model]}
        MAPPINGS.seed(mapping_url(DEFAULT_HUB_URL, model), body)
    return seeded


def _seed_from(cassette: Any, library: Path) -> None:
    """Seed the mappings of the models a replayed cassette calls on hf-inference.

    A model whose Hub lookup the cassette recorded is left to that lookup (dropped from the
    cache if seeded before), so the recording is what the replay plays.
    """
    from hf_tools.routing import DEFAULT_HUB_URL, MAPPINGS, mapping_url

    called, looked_up = set(), set()
    for request in cassette.requests:
        uri = str(request.uri)
        if found := _HF_INFERENCE_CALL.match(uri):
            called.add(found.group(1))
        elif found := _HUB_LOOKUP.match(uri):
            looked_up.add(unquote(found.group(1)))
    for model in looked_up:
        MAPPINGS.forget(mapping_url(DEFAULT_HUB_URL, model))
    seed_mappings(sorted(called - looked_up), library)


# While replaying, the hosts of a cassette resolve to this public address (example.com's):
# the media check of a provider's result URL sees a public host, as it did when recorded,
# and no name is looked up in DNS.
REPLAY_ADDRESS = "93.184.216.34"


def _recorded_addresses(cassette: Any) -> dict[str, str]:
    """Host name -> address, as the cassette's requests show them.

    A media download is sent to the address its host resolved to when recorded (pinned, with
    the name as ``Host``): that pair is kept. Other hosts (a provider's result URL, checked
    then fetched by name) get :data:`REPLAY_ADDRESS`.
    """
    import ipaddress
    from urllib.parse import urlsplit

    addresses: dict[str, str] = {}
    for request in cassette.requests:
        host = (urlsplit(request.uri).hostname or "").lower()
        try:
            ipaddress.ip_address(host)
        except ValueError:
            addresses.setdefault(host, REPLAY_ADDRESS)
            continue
        named = next((v for k, v in request.headers.items() if k.lower() == "host"), None)
        if isinstance(named, list):
            named = named[0] if named else None
        if named:
            addresses[urlsplit(f"//{named}").hostname or ""] = host
    return addresses


@contextmanager
def _resolved_from(cassette: Any) -> Iterator[None]:
    """Resolve the cassette's hosts offline for the media check (``hf_tools.media``).

    A host the cassette never saw cannot be replayed either: its lookup fails here, without
    DNS, unless a resolver was already swapped in (a test's own), which then answers.
    """
    import socket

    import hf_tools.media as media

    addresses = _recorded_addresses(cassette)
    previous = media._getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kw: Any) -> list[Any]:
        address = addresses.get(host.lower())
        if address is not None:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        if previous is not None:
            return previous(host, port, *args, **kw)
        msg = f"{host} is not in the replayed cassette (no DNS while replaying)"
        raise socket.gaierror(socket.EAI_NONAME, msg)

    media._getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        media._getaddrinfo = previous


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
