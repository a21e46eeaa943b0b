"""The README's Python snippets run (a doc test), so the README cannot drift from the code.

Every ```python block is preceded by a marker line:

* ``<!-- doctest -->``: run as is, offline (the network is blocked, as in every test);
* ``<!-- doctest: cassettes=a.yaml,b.yaml -->``: run while those cassettes replay, with a
  dummy ``HF_TOKEN``;
* ``<!-- doctest: continue -->``: run in the namespace of the block before (same cassettes);
* ``<!-- not run: why -->``: shown only (a live agent, a reference listing...), and says why.

A ``print(...)`` line followed by ``# text`` comment lines must print that text. The public
names of ``hf_tools`` are in scope, so a snippet may leave out its imports.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import hf_tools
from hf_tools.testing import CHAT_MATCH_ON, DUMMY_TOKEN, use_cassette

from .conftest import CASSETTES, ROOT

_MARKER = re.compile(r"<!-- (doctest(?::\s*(?P<opts>.*?))?|not run: (?P<why>.+?)) -->")


@dataclass
class Snippet:
    line: int
    code: str
    marker: str | None
    cassettes: tuple[str, ...] = ()
    cont: bool = False
    skip: str | None = None


def _snippets() -> list[Snippet]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
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
        snippet = Snippet(i + 1, "\n".join(lines[i + 1 : j]), before.strip() if match else None)
        if match and match["why"]:
            snippet.skip = match["why"]
        elif match and match["opts"]:
            for opt in match["opts"].split():
                if opt == "continue":
                    snippet.cont = True
                elif opt.startswith("cassettes="):
                    snippet.cassettes = tuple(opt.removeprefix("cassettes=").split(","))
                else:
                    raise AssertionError(f"README line {i}: unknown doctest option {opt!r}")
        found.append(snippet)
        i = j + 1
    return found


SNIPPETS = _snippets()


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


def _run(code: str, namespace: dict[str, Any]) -> None:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    compiled = compile(code, "<README>", "exec", flags=flags)
    result = eval(compiled, namespace)  # our own README: running it is the point
    if asyncio.iscoroutine(result):
        asyncio.run(result)


def test_every_python_block_says_whether_it_runs() -> None:
    unmarked = [s.line for s in SNIPPETS if s.marker is None]
    assert unmarked == [], f"README python blocks without a doctest marker at lines {unmarked}"
    assert sum(s.skip is None for s in SNIPPETS) >= len(SNIPPETS) // 2


@pytest.mark.parametrize("index", range(len(SNIPPETS)), ids=[f"L{s.line}" for s in SNIPPETS])
def test_readme_snippet_runs(
    index: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    snippet = SNIPPETS[index]
    if snippet.skip is not None:
        pytest.skip(snippet.skip)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    chain = [snippet]
    k = index
    while chain[0].cont:  # a continued block runs after the blocks it continues
        k -= 1
        chain.insert(0, SNIPPETS[k])
    cassettes = next((s.cassettes for s in reversed(chain) if s.cassettes), ())
    # The public names of hf_tools are in scope, as after `from hf_tools import ...`.
    namespace: dict[str, Any] = {"__name__": "readme"}
    namespace.update({name: getattr(hf_tools, name) for name in hf_tools.__all__})
    with contextlib.ExitStack() as stack:
        if cassettes:
            stack.enter_context(
                use_cassette(*cassettes, library_dir=CASSETTES, match_on=CHAT_MATCH_ON)
            )
        for part in chain:
            capsys.readouterr()
            _run(part.code, namespace)
    printed = capsys.readouterr().out.splitlines()
    expected = _expected_prints(snippet.code)
    if expected:
        assert printed[-len(expected) :] == expected
