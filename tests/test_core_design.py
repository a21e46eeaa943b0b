"""The core's shape (DESIGN section 1): one call path, routing in one place, no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hf_tools import REGISTRY, AsyncHFClient, HFChatModel, HFClient, HuggingFaceToolkit
from hf_tools.config import SETTINGS_PARAMETERS, RetryPolicy, Settings
from hf_tools.errors import ConfigurationError
from hf_tools.providers import get_adapter
from hf_tools.tasks import get_spec
from hf_tools.tasks._base import TaskSpec

from .conftest import ROOT


def _refusing(sent: list[httpx2.Request]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(500)

    return httpx2.MockTransport(handler)


def test_a_task_hf_inference_does_not_speak_fails_before_any_request_naming_the_fix() -> None:
    base = get_spec("text-classification")
    spec: TaskSpec[Any, Any] = TaskSpec(
        task="text-classification",
        description=base.description,
        input_model=base.input_model,
        output_model=base.output_model,
        render=base.render,
        default_model="org/m",
        example=base.example,
    )
    sent: list[httpx2.Request] = []
    client = HFClient(api_key="hf_x", provider="hf-inference", transport=_refusing(sent))
    with pytest.raises(ConfigurationError, match="hf-inference does not serve text-classification"):
        client.run_spec(spec, spec.input_model(text="hi"))
    assert sent == []


def test_every_way_of_addressing_hf_inference_goes_through_its_adapter() -> None:
    spec = get_spec("feature-extraction")
    adapter = get_adapter("hf-inference", spec.task)
    inputs = spec.input_model(texts="hi")
    cases = {
        HFClient(api_key="k", providers={spec.task: "hf-inference"}): "https://router"
        ".huggingface.co/hf-inference/models/org/m/pipeline/feature-extraction",
        HFClient(api_key="k", base_url="http://127.0.0.1:9"): "http://127.0.0.1:9/models/org/m"
        "/pipeline/feature-extraction",
        HFClient(api_key="k", provider="hf-inference"): "https://router.huggingface.co"
        "/hf-inference/models/org/m/pipeline/feature-extraction",
        HFClient(api_key="k", base_url="http://127.0.0.1:9/e", is_custom_endpoint=True): (
            "http://127.0.0.1:9/e"
        ),
    }
    for client, url in cases.items():
        request = client.prepare(spec, inputs, {}, "org/m")
        assert request.url == url
        assert request.content == b'{"inputs":"hi"}'
    assert adapter.route("org/m") == "/models/org/m/pipeline/feature-extraction"


# ---------------------------------------------------------------- LangChain-free core

_EVERY_TASK_FROM_ITS_CASSETTE = r"""
import asyncio, json, sys
import httpx2, yaml
from hf_tools import REGISTRY, AsyncHFClient, HFClient

def transport(task):
    with open(f"cassettes/{task}/success.yaml", encoding="utf-8") as handle:
        recorded = yaml.safe_load(handle)["interactions"]
    def answer(request):
        entry = recorded.pop(0)
        # A result file goes to its checked address, filed under its Host (as cassettes do).
        url = str(request.url.copy_with(host=request.headers["host"]))
        assert url == entry["request"]["uri"], (url, entry["request"]["uri"])
        response = entry["response"]
        body = response["body"]["string"]
        headers = {k: v[0] for k, v in response["headers"].items()
                   if k.lower() != "content-encoding"}
        return httpx2.Response(response["status"]["code"], content=body if isinstance(body, bytes)
                               else body.encode(), headers=headers)
    return answer

PREFIX = "https://router.huggingface.co/hf-inference/models/"
HUB = "https://huggingface.co/api/models/"

# Provider result files (replicate.delivery, fal.media) resolve to a public address, offline.
import socket, hf_tools.media
from hf_tools.routing import MAPPINGS
hf_tools.media._getaddrinfo = lambda host, port, *a, **k: [
    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

def provider_only(spec):
    with open(f"cassettes/{spec.task}/success.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["interactions"][0]["request"]["uri"].startswith(HUB)

def recorded_model(spec):
    # The model the cassette was recorded with (defaults may have moved on since).
    with open(f"cassettes/{spec.task}/success.yaml", encoding="utf-8") as handle:
        request = yaml.safe_load(handle)["interactions"][0]["request"]
    if spec.needs_endpoint:
        return {spec.task: request["uri"]}
    if request["uri"].startswith(PREFIX):
        return {spec.task: request["uri"][len(PREFIX):].split("/pipeline/")[0]}
    if request["uri"].startswith(HUB):  # a provider-only task: its Hub lookup comes first
        return {spec.task: request["uri"][len(HUB):].split("?")[0]}
    return {spec.task: json.loads(request["body"])["model"]}

async def main():
    for spec in REGISTRY.values():
        models = recorded_model(spec)
        # Tasks only providers serve: their cassette starts with the Hub's mapping.
        kw = {"provider": "auto" if provider_only(spec) else "hf-inference"}
        sync = HFClient(api_key="hf_x", models=models,
                        transport=httpx2.MockTransport(transport(spec.task)), **kw)
        out = sync.run(spec.task, **spec.example)
        assert isinstance(out, spec.output_model), (spec.task, out)
        MAPPINGS.clear()  # the async client replays the cassette's Hub lookup too
        aclient = AsyncHFClient(api_key="hf_x", models=models,
                                transport=httpx2.MockTransport(transport(spec.task)), **kw)
        assert isinstance(await aclient.run(spec.task, **spec.example), spec.output_model)
        await aclient.aclose()
        print(spec.task)

asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.startswith(("langchain", "langsmith")))
assert not loaded, loaded
"""


def _printed(script: str) -> list[str]:
    """What ``script`` prints, run in a fresh interpreter (a clean ``sys.modules``)."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_every_task_runs_from_its_cassette_without_importing_langchain() -> None:
    printed = _printed(_EVERY_TASK_FROM_ITS_CASSETTE)
    assert printed == list(REGISTRY), "every task ran, conversational included"


def _imports(path: Path, module: str, modules: Collection[str] = ()) -> set[str]:
    """The modules ``path`` imports, at module level and inside functions (``ast``).

    ``from pkg import sub`` names ``pkg.sub`` when that is one of ``modules``, not ``pkg``:
    a package's ``__init__`` importing its own submodules is no cycle.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            subs = {f"{base}.{alias.name}" for alias in node.names}
            found.update(subs & set(modules) or {base})
    return found


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in (ROOT / "hf_tools").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _graph() -> dict[str, set[str]]:
    """hf_tools' import graph, edges between hf_tools modules only."""
    modules = _modules()
    return {
        name: {m for m in _imports(path, name, modules) if m in modules and m != name}
        for name, path in modules.items()
    }


# The hosts and apps over the core (LangChain allowed); every other module is core.
CORE = (
    "hf_tools.langchain",
    "hf_tools.cli",
    "hf_tools.testing",
    "hf_tools.demo",
    "hf_tools.assistant",
    "hf_tools.serve",
)


def _is_core(module: str) -> bool:
    return module != "hf_tools" and not module.startswith(CORE)


def test_no_core_module_imports_langchain() -> None:
    modules = {name: _imports(path, name) for name, path in _modules().items() if _is_core(name)}
    assert "hf_tools.flow" in modules and "hf_tools.providers.hf_inference" in modules
    # The tool layer every host shares and the JSON-safe artifacts are core too.
    assert "hf_tools.toolset" in modules and "hf_tools.artifacts" in modules
    # So is the MCP host: an MCP client's process never needs LangChain.
    assert {"hf_tools.mcp", "hf_tools.mcp.server", "hf_tools.mcp.cli"} <= set(modules)
    # So is the bulk runner and its Ray entry point: a batch job never loads LangChain.
    assert {"hf_tools.batch", "hf_tools.batch.runner", "hf_tools.batch.on_ray"} <= set(modules)
    offending = {
        name: sorted(m for m in found if m.startswith(("langchain", "hf_tools.langchain")))
        for name, found in modules.items()
    }
    assert {k: v for k, v in offending.items() if v} == {}


_A_HOST_WITHOUT_LANGCHAIN = r"""
import json, sys
from hf_tools import REGISTRY, Toolset
from hf_tools.artifacts import binary_parts, summary
from hf_tools.tasks.text_to_image import TextToImageOutput

every = {s.task: s.default_model or "https://e.example/x" for s in REGISTRY.values()}
toolset = Toolset(api_key="hf_x", models=every,
                  providers={s.task: "auto" for s in REGISTRY.values() if s.hf_inference is None})
print(len(json.dumps([t.definition() for t in toolset.tools])) > 0, len(toolset.tools))
import hf_tools.batch, hf_tools.batch.cli, hf_tools.ray  # the bulk runner is a host too
image = TextToImageOutput(image=b"\x89PNG\r\n\x1a\n", mime="image/png")
assert TextToImageOutput.model_validate_json(image.model_dump_json()) == image
assert binary_parts(image) and summary(image)["image"] == "<8 bytes>"
loaded = sorted(m for m in sys.modules if m.startswith(("langchain", "langsmith")))
assert not loaded, loaded
"""


def test_a_host_lists_tools_and_handles_outputs_without_importing_langchain() -> None:
    assert _printed(_A_HOST_WITHOUT_LANGCHAIN) == ["True", str(len(REGISTRY))]


_AN_MCP_SERVER_WITHOUT_LANGCHAIN = r"""
import asyncio, os, sys
from mcp import Client
from hf_tools.cli.entry import build_parser
from hf_tools.mcp.cli import build_server

os.environ["HF_TOKEN"] = "hf_" + "x" * 20
# `hf-tools mcp --family text,vision`, parsed as the command line does.
server = build_server(build_parser("mcp").parse_args(["mcp", "--family", "text,vision"]))

async def main():
    async with Client(server) as client:
        print(len((await client.list_tools()).tools))

asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.startswith(("langchain", "langsmith")))
assert not loaded, loaded
"""


def test_the_mcp_server_starts_and_lists_its_tools_without_importing_langchain() -> None:
    from hf_tools.toolset import Toolset

    offered = Toolset(api_key="hf_x", families=["text", "vision"]).tools
    assert _printed(_AN_MCP_SERVER_WITHOUT_LANGCHAIN) == [str(len(offered))]


def test_the_hosts_decide_no_tool_policy_of_their_own() -> None:
    # Which tools are offered (catalog, routing, providers) and how failures are classified
    # (the error classes beyond the base) are the toolset's; the hosts only wrap it.
    policy = {"hf_tools.catalog", "hf_tools.routing", "hf_tools.providers", "hf_tools.flow"}
    modules = _modules()
    hosts = ("hf_tools.langchain.tools", "hf_tools.langchain.toolkit", "hf_tools.mcp.server")
    batch = ("hf_tools.batch", "hf_tools.batch.runner", "hf_tools.batch.on_ray")
    for host in (*hosts, "hf_tools.cli.call", "hf_tools.cli.listing", *batch):
        found = _imports(modules[host], host, modules)
        assert "hf_tools.toolset" in found, host
        assert found & policy == set(), host


def _first_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of ``graph`` (its nodes, the first repeated at the end), or ``[]``."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def _module_graph() -> dict[str, set[str]]:
    # The package root re-exports the adapters lazily; its edges are not part of the core.
    graph = {name: edges - {"hf_tools"} for name, edges in _graph().items() if name != "hf_tools"}
    return {
        name: {e for e in edges if not (e.startswith("hf_tools.langchain") and _is_core(name))}
        for name, edges in graph.items()
    }


def test_the_hf_tools_import_graph_has_no_cycle() -> None:
    assert _first_cycle(_module_graph()) == []


def test_no_two_hf_tools_packages_import_each_other() -> None:
    # A package and its modules count as one (`hf_tools.batch.cli` is `hf_tools.batch`): a
    # lazy import from one package into another that imports it back is a cycle too.
    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    units: dict[str, set[str]] = {}
    for name, edges in _module_graph().items():
        units.setdefault(unit(name), set()).update(unit(e) for e in edges if unit(e) != unit(name))
    assert {"hf_tools.batch", "hf_tools.ray", "hf_tools.cli", "hf_tools.mcp"} <= set(units)
    assert _first_cycle(units) == []


# ------------------------------------------------------------------ settings stated once


def _samples(tmp: Path) -> dict[str, tuple[Any, Callable[[Settings], bool]]]:
    """A value for every Settings.create argument, and how the Settings shows it arrived."""
    return {
        "api_key": (
            "hf_sample",
            lambda s: s.api_key is not None and s.api_key.get_secret_value() == "hf_sample",
        ),
        "base_url": ("http://127.0.0.1:9", lambda s: s.base_url == "http://127.0.0.1:9"),
        "is_custom_endpoint": (True, lambda s: s.is_custom_endpoint),
        "models": ({"summarization": "org/m"}, lambda s: s.models == {"summarization": "org/m"}),
        "use_cache": (False, lambda s: s.use_cache is False),
        "wait_for_model": (True, lambda s: s.wait_for_model is True),
        "timeout": (7.0, lambda s: s.timeout == 7.0),
        "max_retries": (1, lambda s: s.retry.max_retries == 1),
        "retry": (RetryPolicy(max_retries=2), lambda s: s.retry == RetryPolicy(max_retries=2)),
        "max_content_chars": (999, lambda s: s.max_content_chars == 999),
        "output_dir": (tmp, lambda s: s.output_dir == tmp),
        "allowed_roots": ([tmp], lambda s: s.allowed_roots == (tmp.resolve(),)),
        "allow_private_urls": (True, lambda s: s.allow_private_urls),
        "max_media_bytes": (1234, lambda s: s.max_media_bytes == 1234),
        "max_json_bytes": (2345, lambda s: s.max_json_bytes == 2345),
        "max_binary_bytes": (3456, lambda s: s.max_binary_bytes == 3456),
        "provider": ("hf-inference", lambda s: s.provider == "hf-inference"),
        "providers": (
            {"summarization": "hf-inference"},
            lambda s: s.providers == {"summarization": "hf-inference"},
        ),
        "router_url": ("http://127.0.0.1:8", lambda s: s.router_url == "http://127.0.0.1:8"),
        "hub_url": ("http://127.0.0.1:7", lambda s: s.hub_url == "http://127.0.0.1:7"),
        "bill_to": ("my-org", lambda s: s.bill_to == "my-org"),
        "provider_order": (["hf-inference"], lambda s: s.provider_order == ("hf-inference",)),
    }


def _toolkit_settings(**kw: Any) -> Settings:
    return HuggingFaceToolkit(**kw).client.settings


_ADAPTERS: dict[str, Callable[..., Settings]] = {
    "HFClient": lambda **kw: HFClient(**kw).settings,
    "AsyncHFClient": lambda **kw: AsyncHFClient(**kw).settings,
    "HuggingFaceToolkit": _toolkit_settings,
}


@pytest.mark.parametrize("adapter", sorted(_ADAPTERS))
def test_every_adapter_takes_every_setting_and_a_ready_settings(
    adapter: str, tmp_path: Path
) -> None:
    samples = _samples(tmp_path)
    assert set(samples) == set(SETTINGS_PARAMETERS), "a new setting needs a sample here"
    build = _ADAPTERS[adapter]
    for name, (value, arrived) in samples.items():
        kw: dict[str, Any] = {"api_key": "hf_x", name: value}
        if name == "is_custom_endpoint":
            kw["base_url"] = "http://127.0.0.1:9"
        assert arrived(build(**kw)), f"{adapter} did not pass {name} on"
    ready = Settings.create(api_key="hf_x", timeout=7.0, max_media_bytes=1234)
    got = build(settings=ready)
    assert (got.timeout, got.max_media_bytes) == (7.0, 1234)
    with pytest.raises((TypeError, ConfigurationError), match="not both"):
        build(settings=ready, timeout=3.0)


def test_the_chat_model_takes_the_settings_that_apply_to_it() -> None:
    applies = {"api_key", "timeout", "max_retries", "retry", "max_json_bytes"}
    fields = set(HFChatModel.model_fields)
    assert applies <= fields & set(SETTINGS_PARAMETERS)
    samples = _samples(Path.cwd())
    for name in sorted(fields & set(SETTINGS_PARAMETERS) - {"base_url"}):
        value, arrived = samples[name]
        llm = HFChatModel(model="org/m", **{"api_key": "hf_x", name: value})
        assert arrived(llm._settings), f"HFChatModel did not pass {name} on"
