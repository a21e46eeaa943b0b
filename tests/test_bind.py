"""One rule decides whether a bind address is loopback, for the chatbot and the MCP server."""

from __future__ import annotations

from typing import Any

import pytest

from hf_tools.testing import DUMMY_TOKEN

LOOPBACK = [
    "127.0.0.1",
    "127.0.0.2",  # all of 127/8
    "127.255.255.254",
    "localhost",
    "LocalHost",
    "::1",
    "[::1]",
    "0:0:0:0:0:0:0:1",
    "::1%lo",  # with a zone
    "::ffff:127.0.0.1",  # IPv4-mapped: served from 127.0.0.1 only
    "[::ffff:127.1.2.3]",
]
PUBLIC = [
    "0.0.0.0",  # every interface
    "::",
    "",
    "::ffff:0.0.0.0",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible: not loopback
    "192.168.1.10",
    "10.0.0.1",
    "fe80::1%lo",
    "chat.example",
    "localhost.example.com",
    "127.0.0.1.nip.io",  # a name that resolves anywhere its owner likes
    "127.1",  # shorthand the OS reads: not this check's to guess
    "2130706433",
    "[127.0.0.1]",  # brackets belong to IPv6
    "[localhost]",
    " 127.0.0.1",
    "127.0.0.1 ",
    "[[::1]]",
]


@pytest.mark.parametrize(
    ("host", "loopback"), [(h, True) for h in LOOPBACK] + [(h, False) for h in PUBLIC]
)
def test_the_loopback_table(host: str, loopback: bool) -> None:
    from hf_tools.bind import is_loopback

    assert is_loopback(host) is loopback


def _serve(host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> bool:
    """Whether ``hf-tools serve --host HOST`` serves without API keys."""
    import uvicorn

    from hf_tools.serve.main import main

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw))
    monkeypatch.delenv("HF_TOOLS_API_KEYS", raising=False)
    code = main(["--host", host, "--port", "9", "--store", "memory"])
    err = capsys.readouterr().err
    assert (code, bool(served)) in ((0, True), (2, False)), err
    assert served or "without API keys" in err
    return bool(served)


def _mcp(host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> bool:
    """Whether ``hf-tools mcp --http --host HOST`` serves without a bearer token."""
    pytest.importorskip("mcp")  # make test-lowest's core pass has no MCP SDK
    import hf_tools.mcp.cli
    from hf_tools.cli import main

    served: list[str] = []
    monkeypatch.delenv("HF_TOOLS_MCP_TOKEN", raising=False)
    monkeypatch.setattr(hf_tools.mcp.cli, "_listening", lambda host, port: object())
    monkeypatch.setattr(hf_tools.mcp.cli, "_serve_http", lambda *a: served.append("served"))
    code = main(["mcp", "--http", "--host", host, "--tasks", "summarization"])
    err = capsys.readouterr().err
    assert (code, bool(served)) in ((0, True), (2, False)), err
    assert served or "give a bearer token" in err
    return bool(served)


# The addresses where the two servers used to disagree, and the plain cases.
_HOSTS = [
    "127.0.0.1",
    "localhost",
    "::1",
    "127.0.0.2",  # the MCP server refused it
    "LOCALHOST",  # the MCP server refused it
    "[::1]",  # the MCP server refused it
    "::ffff:127.0.0.1",  # both refused it
    "[127.0.0.1]",  # the chatbot server served it
    "0.0.0.0",
    "::",
    "chat.example",
]


@pytest.mark.parametrize("server", [_serve, _mcp])
@pytest.mark.parametrize("host", _HOSTS)
def test_both_servers_serve_without_auth_exactly_on_loopback(
    server: Any, host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    assert server(host, monkeypatch, capsys) is (host.lower() in {h.lower() for h in LOOPBACK})
