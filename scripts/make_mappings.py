"""Write cassettes/mappings.json: the Hub mapping each hf-inference cassette was recorded under.

The default provider is "auto", which asks the Hub who serves a model before calling it. The
hf-inference cassettes were recorded before that lookup existed (or with ``provider=None``), so
replays seed the mapping cache from this file (``hf_tools.testing.use_cassette``): each model
called on hf-inference in a cassette is mapped, live, to hf-inference for the task its folder
(or its ``/pipeline/`` route) names. Run after adding an hf-inference cassette:
``.venv/bin/python scripts/make_mappings.py``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

from hf_tools.routing import hub_task
from hf_tools.tasks import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
_HF = re.compile(r"^https://router\.huggingface\.co/hf-inference/models/(.+?)(?:/pipeline/(.+))?$")
# Folders that are no task: the task their hf-inference calls run (client/ and chat-completion/
# call text classification, the agent's tool).
_FOLDER_TASKS = {
    "text-generation-stream": "text-generation",
    "embeddings": "feature-extraction",
    "client": "text-classification",
    "chat-completion": "text-classification",
}


def mappings() -> dict[str, list[dict[str, str]]]:
    """``{model: [Hub mapping entries]}`` for every model an hf-inference cassette calls.

    Raises:
        LookupError: a cassette in a folder that names no task calls hf-inference.
    """
    found: dict[str, set[str]] = {}
    for path in sorted(CASSETTES.glob("**/*.yaml")):
        folder = path.relative_to(CASSETTES).parts[0]
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
            match = _HF.match(str(item["request"]["uri"]).split("?")[0])
            if match is None:
                continue
            model, pipeline = match.group(1), match.group(2)
            task = pipeline or (
                hub_task(folder) if folder in REGISTRY else _FOLDER_TASKS.get(folder)
            )
            if task is None:
                msg = f"{path}: which task does {model} run? add its folder to _FOLDER_TASKS"
                raise LookupError(msg)
            found.setdefault(model, set()).add(task)
    return {
        model: [
            {"provider": "hf-inference", "providerId": model, "status": "live", "task": task}
            for task in sorted(tasks)
        ]
        for model, tasks in sorted(found.items())
    }


def main() -> int:
    """Write the file; print how many models it maps."""
    found = mappings()
    text = json.dumps(found, indent=1, sort_keys=True) + "\n"
    (CASSETTES / "mappings.json").write_text(text, encoding="utf-8")
    print(f"mapped {len(found)} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
