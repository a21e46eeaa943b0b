"""The README and docs/ pages run: their Python snippets, links and numbers stay true.

Every ```python block in README.md and docs/*.md is preceded by a marker line:

* ``<!-- doctest -->``: run as is, offline (the network is blocked, as in every test);
* ``<!-- doctest: cassettes=a.yaml,b.yaml -->``: run while those cassettes replay, with a
  dummy ``HF_TOKEN``;
* ``<!-- doctest: continue -->``: run in the namespace of the block before, in the same page
  (same cassettes);
* ``<!-- not run: why -->``: shown only (a live agent, a reference listing...), and says why.

A ``print(...)`` line followed by ``# text`` comment lines must print that text. The public
names of ``hf_tools`` are in scope, so a snippet may leave out its imports.

Every relative link and ``#anchor`` between the pages must resolve, and the numbers the pages
state about the code (tool counts, schema bytes, the suite's size) must be what it computes.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest

import hf_tools
from hf_tools.testing import CHAT_MATCH_ON, DUMMY_TOKEN, use_cassette

from .conftest import CASSETTES, EVERY_TOOL, ROOT

_MARKER = re.compile(r"<!-- (doctest(?::\s*(?P<opts>.*?))?|not run: (?P<why>.+?)) -->")

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
"""The front door and the manual: every page the doc tests read."""


def page(name: str) -> str:
    """The text of a page: ``"README.md"`` or ``"docs/tools.md"``."""
    return (ROOT / name).read_text(encoding="utf-8")


@dataclass
class Snippet:
    page: str
    line: int
    code: str
    marker: str | None
    cassettes: tuple[str, ...] = ()
    cont: bool = False
    skip: str | None = None


def _snippets(path: Path) -> list[Snippet]:
    name = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        j = i + 1
        while lines[j].strip() != "```":
            j += 1
        before = next((x for x in reversed(lines[:i]) if x.strip()), "")
        match = _MARKER.fullmatch(before.strip())
        code = "\n".join(lines[i + 1 : j])
        snippet = Snippet(name, i + 1, code, before.strip() if match else None)
        if match and match["why"]:
            snippet.skip = match["why"]
        elif match and match["opts"]:
            for opt in match["opts"].split():
                if opt == "continue":
                    snippet.cont = True
                elif opt.startswith("cassettes="):
                    snippet.cassettes = tuple(opt.removeprefix("cassettes=").split(","))
                else:
                    raise AssertionError(f"{name} line {i}: unknown doctest option {opt!r}")
        found.append(snippet)
        i = j + 1
    return found


SNIPPETS = [s for path in PAGES for s in _snippets(path)]


def _expected_prints(code: str) -> list[str]:
    """The text ``print`` lines promise: the ``# ...`` comment lines right after them."""
    out: list[str] = []
    lines = code.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("print("):
            for follow in lines[k + 1 :]:
                if not follow.startswith("# "):
                    break
                out.append(follow[2:])
    return out


def _run(code: str, namespace: dict[str, Any], where: str) -> None:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    compiled = compile(code, where, "exec", flags=flags)
    result = eval(compiled, namespace)  # our own docs: running them is the point
    if asyncio.iscoroutine(result):
        asyncio.run(result)


def test_the_manual_is_there_and_the_readme_is_a_front_door() -> None:
    assert len(PAGES) >= 10
    readme = page("README.md")
    assert len(readme.splitlines()) < 300
    for heading in ("## Install", "## The two commands", "## Quickstart", "## The manual"):
        assert heading in readme, heading
    # The map names every page of docs/, one line each.
    for path in PAGES[1:]:
        assert f"| [docs/{path.name}](docs/{path.name}) |" in readme, path.name


def test_every_python_block_says_whether_it_runs() -> None:
    unmarked = [f"{s.page}:{s.line}" for s in SNIPPETS if s.marker is None]
    assert unmarked == [], f"python blocks without a doctest marker: {unmarked}"
    assert sum(s.skip is None for s in SNIPPETS) >= len(SNIPPETS) // 2
    for k, snippet in enumerate(SNIPPETS):
        if snippet.cont:  # continues a block of its own page, never the previous page's last
            assert k > 0 and SNIPPETS[k - 1].page == snippet.page, snippet


def _workdir(folder: Path, code: str) -> None:
    """A working directory with what the snippets name: the cassettes and the fixture files.

    Fixtures are copied, not linked: a media path resolves (links followed) inside the folders
    a tool may read, which default to the working directory.
    """
    (folder / "cassettes").symlink_to(CASSETTES, target_is_directory=True)
    for name in set(re.findall(r"tests/fixtures/[\w.-]+", code)):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, folder / name)


@pytest.mark.parametrize(
    "index", range(len(SNIPPETS)), ids=[f"{s.page}:L{s.line}" for s in SNIPPETS]
)
def test_snippet_runs(
    index: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snippet = SNIPPETS[index]
    if snippet.skip is not None:
        pytest.skip(snippet.skip)
    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    chain = [snippet]
    k = index
    while chain[0].cont:  # a continued block runs after the blocks it continues
        k -= 1
        chain.insert(0, SNIPPETS[k])
    # A reader's working directory, not the checkout: what a snippet writes stays in tmp_path.
    _workdir(tmp_path, "\n".join(part.code for part in chain))
    monkeypatch.chdir(tmp_path)
    cassettes = next((s.cassettes for s in reversed(chain) if s.cassettes), ())
    # The public names of hf_tools are in scope, as after `from hf_tools import ...`.
    namespace: dict[str, Any] = {"__name__": "docs"}
    namespace.update({name: getattr(hf_tools, name) for name in hf_tools.__all__})
    # A reader's process starts with no Hub mapping cached (the suite seeds every recorded
    # one): only what the block's cassettes seed, or its own code, is there.
    hf_tools.routing.MAPPINGS.clear()
    with contextlib.ExitStack() as stack:
        if cassettes:
            stack.enter_context(
                use_cassette(*cassettes, library_dir=CASSETTES, match_on=CHAT_MATCH_ON)
            )
        for part in chain:
            capsys.readouterr()
            _run(part.code, namespace, f"{part.page}:{part.line}")
    printed = capsys.readouterr().out.splitlines()
    expected = _expected_prints(snippet.code)
    if expected:
        assert printed[-len(expected) :] == expected


# ----------------------------------------------------------------------------- links

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")  # link text may wrap


def _prose(text: str) -> str:
    """The page without code blocks and code spans, where brackets are not links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, no punctuation, dashes for spaces, -1 on repeats."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def test_github_anchors_are_computed_as_github_does() -> None:
    text = "# A\n## Storage, replicas and the turn lock\n## `hf-tools` and X\n## A\n```\n# no\n```"
    assert anchors(text) == {"a", "storage-replicas-and-the-turn-lock", "hf-tools-and-x", "a-1"}


def broken_links(path: Path) -> list[str]:
    """The relative links and #anchors of one page that lead nowhere."""
    broken = []
    for target in _LINK.findall(_prose(path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ...: not ours to check
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists() or (
            anchor and (dest.suffix != ".md" or anchor not in anchors(dest.read_text()))
        ):
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_link_and_anchor_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# Real heading\n")
    doc = tmp_path / "a.md"
    doc.write_text(
        "[ok](b.md#real-heading) [gone](c.md) [bad](b.md#nope) [self](#top) `[x](y.md)`\n"
        "[wrapped\ntext](d.md)\n"
        "[web](https://example.com/x#y)\n# Top\n"
    )
    assert broken_links(doc) == ["c.md", "b.md#nope", "d.md"]


# ---------------------------------------------------------------------------- numbers


def _number(text: str) -> int:
    return int(text.replace(",", ""))


# Pydantic before 2.11 writes a float's bound declared `ge=0` as `0.0` (make test-lowest).
OLD_BOUNDS = tuple(int(n) for n in pydantic.VERSION.split(".")[:2]) < (2, 11)
FLOAT_BOUND = re.compile(r'("(?:minimum|maximum|exclusiveMinimum|exclusiveMaximum)":-?\d+)\.0\b')


def _schema_bytes(toolkit: Any) -> int:
    """The schema bytes `hf-tools list` prints, as the locked pydantic writes them.

    Under an older pydantic the bounds are respelled as declared: the pages state the bytes of
    the locked versions, and an LLM reads `0.0` and `0` the same.
    """
    from hf_tools.cli import schema_bytes

    if not OLD_BOUNDS:
        return schema_bytes(toolkit)
    total = 0
    for tool in toolkit.toolset.tools:
        openai = {"type": "function", "function": tool.definition()}
        total += len(FLOAT_BOUND.sub(r"\1", json.dumps(openai, separators=(",", ":"))))
    return total


def test_schema_bytes_the_tools_page_states_are_what_the_code_measures() -> None:
    from hf_tools import HuggingFaceToolkit
    from hf_tools.toolset import FAMILIES

    text = page("docs/tools.md")
    stated = {
        m["family"]: (_number(m["tools"]), _number(m["bytes"]))
        for m in re.finditer(
            r"`(?P<family>\w+)`\)?\s+(?P<tools>\d+)\s+tools?,\s+(?P<bytes>[\d,]+)\s+bytes", text
        )
    }
    measured = {}
    for family in FAMILIES:
        toolkit = HuggingFaceToolkit(api_key="hf_x", families=[family], **EVERY_TOOL)
        measured[family] = (len(toolkit.get_tools()), _schema_bytes(toolkit))
    every = HuggingFaceToolkit(api_key="hf_x", **EVERY_TOOL)
    measured["all"] = (len(every.get_tools()), _schema_bytes(every))
    default = HuggingFaceToolkit(api_key="hf_x")
    measured["default"] = (len(default.get_tools()), _schema_bytes(default))
    assert stated == measured
    listed = f"`{measured['default'][0]} tools; schemas {measured['default'][1]} bytes"
    assert listed in text  # what `hf-tools list` prints with the default settings
    # The providers page states what "auto", the default, offers and what hf-inference does.
    providers = " ".join(page("docs/providers.md").split())
    tools, size = measured["default"]
    assert f"({tools} tools, {size:,} schema bytes;" in providers
    hf_inference = HuggingFaceToolkit(api_key="hf_x", provider="hf-inference").get_tools()
    assert f"not only hf-inference's {len(hf_inference)}." in providers


LISTED_PROTOCOL = "2025-11-25"
"""The MCP revision whose ``tools/list`` bytes docs/mcp.md states (clients' today)."""


async def _listing_bytes(argv: list[str]) -> tuple[int, int]:
    """Tools and bytes of the ``tools/list`` result ``hf-tools mcp ARGV`` sends (its JSON).

    The server is built as the command builds it; the result is shaped for the protocol
    revision as the SDK shapes it on the wire (``mcp.server.runner``), so the bytes are those
    a client of that revision reads.
    """
    from mcp_types import ListToolsResult
    from mcp_types.methods import serialize_server_result
    from pydantic_core import to_json

    from hf_tools.cli.entry import build_parser
    from hf_tools.mcp.cli import build_server

    server = build_server(build_parser("mcp").parse_args(["mcp", *argv]))
    try:
        tools = await server.list_tools()
    finally:
        server.toolset.close()
    result = ListToolsResult(tools=tools).model_dump(by_alias=True, mode="json", exclude_none=True)
    wire = to_json(serialize_server_result("tools/list", LISTED_PROTOCOL, result)).decode()
    if OLD_BOUNDS:
        wire = FLOAT_BOUND.sub(r"\1", wire)
    return len(tools), len(wire.encode())


async def test_the_mcp_listing_bytes_the_mcp_page_states_are_what_the_server_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("mcp", reason="the mcp extra is not installed (make test-lowest)")
    # `hf-tools mcp` as a user starts it: a token in HF_TOKEN (so the default is "auto").
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    for name in [n for n in os.environ if n.startswith("HF_TOOLS_")]:
        monkeypatch.delenv(name)
    stated = re.search(
        r"[Tt]he listing \(.+?\) is (?P<bytes>[\d,]+) bytes for the (?P<tools>\d+) default tools,"
        r" (?P<text_bytes>[\d,]+) for `--family text` \((?P<text_tools>\d+) tools\)",
        " ".join(page("docs/mcp.md").split()),
    )
    assert stated is not None
    default = (_number(stated["tools"]), _number(stated["bytes"]))
    text = (_number(stated["text_tools"]), _number(stated["text_bytes"]))
    assert (default, text) == (await _listing_bytes([]), await _listing_bytes(["--family", "text"]))


def test_the_readme_counts_the_tasks_there_are() -> None:
    from hf_tools import REGISTRY

    endpoint_tools = sum(spec.needs_endpoint for spec in REGISTRY.values())
    tasks = len(REGISTRY) - endpoint_tools
    assert f"({tasks} of them, plus a tool for your own endpoint)" in page("README.md")


@pytest.mark.parametrize("name", ["README.md", "docs/architecture.md"])
def test_the_pages_state_the_size_of_the_suite(name: str, request: pytest.FixtureRequest) -> None:
    stated = re.search(r"about ([\d,]+) offline tests", page(name))
    assert stated is not None
    options = request.config.option
    whole = not options.keyword and not options.markexpr and not options.deselect
    whole = whole and {Path(arg).resolve() for arg in request.config.args} <= {ROOT, ROOT / "tests"}
    if not whole:
        pytest.skip("not the whole suite: only the whole suite tells its size")
    collected = len(request.session.items)
    assert abs(_number(stated[1]) - collected) <= collected * 0.1, collected


def test_the_readme_installs_only_extras_pyproject_declares() -> None:
    import tomllib

    extras = tomllib.loads(page("pyproject.toml"))["project"]["optional-dependencies"]
    named = re.findall(r"(?:hf-tools|\.)\[([\w,]+)\]", page("README.md"))
    assert named
    for extra in {e for group in named for e in group.split(",")}:
        assert extra in extras, extra
    for extra in extras:  # and the install table names each of them
        assert f"| `{extra}` |" in page("README.md"), extra


def test_the_providers_page_counts_the_tasks_no_provider_serves() -> None:
    from hf_tools.catalog import DEFAULT_MODELS

    stated = re.search(
        r"\((\d+)\s+tasks, [^)]*? are served by no provider today", page("docs/providers.md")
    )
    assert stated is not None
    assert int(stated[1]) == sum(not served for served in DEFAULT_MODELS.values())


def test_the_configuration_page_lists_every_setting() -> None:
    import inspect

    from hf_tools.config import Settings

    text = page("docs/configuration.md")
    start = text.index("HuggingFaceToolkit(")
    snippet = text[start : text.index("\n```\n", start)]
    listed = set(re.findall(r"^    (\w+)=", snippet, re.M))
    settings = set(inspect.signature(Settings.create).parameters) - {"unexpected"}
    assert settings <= listed, settings - listed
