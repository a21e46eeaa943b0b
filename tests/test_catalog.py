"""One place per task: each spec says who serves it and its family; the rest is derived."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

import pytest

from hf_tools import catalog
from hf_tools.errors import ConfigurationError
from hf_tools.tasks import FAMILIES, REGISTRY, _families
from hf_tools.toolset import family_of

from .conftest import ROOT


def _pages() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages if p.is_file())


@pytest.mark.parametrize("table", [catalog.tools_table, catalog.provider_table])
def test_the_docs_hold_the_tables_generated_from_the_registry(table: Any) -> None:
    # Out of date: run scripts/write_tables.py.
    assert table() in _pages()


def test_the_generated_tables_follow_the_specs() -> None:
    tools = catalog.tools_table().splitlines()
    assert tools[2] == (
        "| `text_classification` | text, text_pair?, top_k? |"
        " `distilbert/distilbert-base-uncased-finetuned-sst-2-english` |"
    )
    assert tools[-1] == '| `custom` | payload | your endpoint URL (`models={"custom": url}`) |'
    assert len(tools) == 2 + len(REGISTRY)
    row = next(r for r in catalog.provider_table().splitlines() if "| `text_to_image` |" in r)
    assert row.startswith("| `text_to_image` | text-to-image | yes | fal-ai, replicate, together")


def test_the_table_writer_replaces_a_stale_table_in_place() -> None:
    path = ROOT / "scripts" / "write_tables.py"
    spec = importlib.util.spec_from_file_location("write_tables", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = catalog.tools_table()
    stale = "intro\n" + table.splitlines()[0] + "\n|---|\n| `old` | x | y |\n\nafter\n"
    assert module.rewrite(stale, table) == "intro\n" + table + "\nafter\n"


def test_the_catalog_is_read_from_each_task_module() -> None:
    spec = REGISTRY["automatic-speech-recognition"]
    assert catalog.DEFAULT_MODELS[spec.task] is spec.serving
    assert catalog.defaults_of(spec.task)[1] == ("fal-ai", "openai/whisper-large-v3")
    assert catalog.default_for(spec.task, "fal-ai") == "openai/whisper-large-v3"
    assert catalog.serves_on_hf_inference(spec.task, spec.default_model)
    assert not catalog.serves_on_hf_inference(spec.task, "openai/whisper-large-v3")
    assert "custom" not in catalog.DEFAULT_MODELS


def test_families_come_from_the_specs_grouped_in_the_registry() -> None:
    assert list(FAMILIES) == ["text", "vision", "audio", "generation", "custom"]
    assert FAMILIES["audio"] == (
        "automatic-speech-recognition",
        "audio-classification",
        "audio-to-audio",
    )
    assert [t for tasks in FAMILIES.values() for t in tasks] == list(REGISTRY)
    assert all(family_of(t) == s.family for t, s in REGISTRY.items())
    specs = tuple(REGISTRY.values())
    # A task registered away from its family's group is refused at import.
    stray = dataclasses.replace(specs[0], family="vision")
    with pytest.raises(ConfigurationError, match="registered away from the other text tasks"):
        _families((*specs[:3], stray, *specs[3:]))


def test_the_recorded_mappings_replays_seed_are_current() -> None:
    # Out of date: run scripts/make_mappings.py after adding an hf-inference cassette.
    import json

    path = ROOT / "scripts" / "make_mappings.py"
    spec = importlib.util.spec_from_file_location("make_mappings", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = json.loads((ROOT / "cassettes" / "mappings.json").read_text(encoding="utf-8"))
    assert written == module.mappings()
