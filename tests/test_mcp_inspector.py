"""A client nobody here wrote: the MCP Inspector's CLI (npm, pinned in .npm-tools/) over stdio.

``make test`` installs it into the checkout (``npm ci --prefix .npm-tools``); run alone without
it, the test is skipped, except in CI where a missing Inspector fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hf_tools import REGISTRY

from .conftest import ROOT
from .test_mcp_transports import CASSETTES, TASKS, server_flags

INSPECTOR = ROOT / ".npm-tools" / "node_modules" / ".bin" / "mcp-inspector"


@pytest.fixture
def inspect(tmp_path: Path) -> Any:
    if not INSPECTOR.is_file():
        if os.environ.get("CI"):
            pytest.fail(
                "the MCP Inspector is not installed: make .npm-tools/node_modules/.installed"
            )
        pytest.skip("the MCP Inspector is not installed (make test installs it)")

    def run(*method: str, code: int = 0) -> Any:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PYTEST"))}
        env["MCP_CATALOG_PATH"] = str(tmp_path / "catalog.json")  # not the user's ~/
        server_env = ["-e", f"HF_TOOLS_MCP_CASSETTES={CASSETTES}", "-e", "HF_TOKEN=hf_dummy_token"]
        server = [sys.executable, "-m", "tests.mcp_replay", *server_flags()]
        done = subprocess.run(
            [str(INSPECTOR), "--cli", "--cwd", str(ROOT), *server_env, *server, *method],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        assert done.returncode == code, done.stderr[-2000:]
        return json.loads(done.stdout)

    return run


def test_the_inspector_lists_the_tools_with_their_schemas(inspect: Any) -> None:
    listed = inspect("--method", "tools/list")["tools"]
    assert [t["name"] for t in listed] == [t.replace("-", "_") for t in TASKS]
    schema = REGISTRY["text-classification"].input_model.model_json_schema()
    assert listed[0]["inputSchema"] == schema


def test_the_inspector_calls_a_text_and_an_image_tool_and_reads_an_error(inspect: Any) -> None:
    # The Inspector exits 5 on an isError result, after printing it.
    missing = inspect("--method", "tools/call", "--tool-name", "text_classification", code=5)
    assert missing["isError"] is True
    assert "text: Field required" in missing["content"][0]["text"]
    called = inspect(
        "--method",
        "tools/call",
        "--tool-name",
        "text_classification",
        "--tool-arg",
        "text=I like you",
    )
    assert called["isError"] is False
    assert called["structuredContent"]["labels"][0]["label"] == "POSITIVE"
    prompt = REGISTRY["text-to-image"].example["prompt"]
    image = inspect(
        "--method", "tools/call", "--tool-name", "text_to_image", "--tool-arg", f"prompt={prompt}"
    )
    kinds = [(b["type"], b.get("mimeType")) for b in image["content"]]
    assert kinds == [("text", None), ("image", "image/jpeg"), ("resource_link", "image/jpeg")]
