"""Write hf_tools/tasks/_parameters.py: each task's wire parameters, from the task specs.

The specs are the JSON schemas huggingface_hub generates its types from, copied into
scripts/task-specs/. For each task this writes:

- ``<Task>Parameters``: every parameter of the spec, with its type and description; the task's
  build function sends it (``parameters``, or the body's root for feature-extraction).
- ``<Task>PythonOnly``: the spec parameters the hand-written ``<Task>Input`` does not declare,
  hidden from the JSON schema (``SkipJsonSchema``). ``<Task>Input`` inherits it, so Python callers
  can pass every spec parameter while the schema an LLM reads stays as curated.

Run ``.venv/bin/python scripts/generate_parameters.py`` after changing a spec or the fields an
``<Task>Input`` declares; ``--check`` exits 1 when the module is stale (the test does the same).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "scripts" / "task-specs"
TASKS_DIR = ROOT / "hf_tools" / "tasks"
OUT = TASKS_DIR / "_parameters.py"
COMMON = "/inference/schemas/common-definitions.json#/definitions/"

TASKS = (
    "audio-classification",
    "automatic-speech-recognition",
    "document-question-answering",
    "feature-extraction",
    "fill-mask",
    "image-classification",
    "image-segmentation",
    "image-to-image",
    "image-to-text",
    "object-detection",
    "question-answering",
    "summarization",
    "table-question-answering",
    "text-to-image",
    "text-classification",
    "token-classification",
    "translation",
    "visual-question-answering",
    "zero-shot-classification",
    "zero-shot-image-classification",
)

HEADER = '''"""Each task's wire parameters, generated from the task specs: DO NOT EDIT.

Written by scripts/generate_parameters.py from scripts/task-specs/ (the JSON schemas
huggingface_hub generates its types from); tests/test_spec_parameters.py fails when it is stale.
``<Task>Parameters`` is what goes on the wire; ``<Task>PythonOnly`` holds the spec parameters the
hand-written ``<Task>Input`` does not declare, hidden from the schema an LLM reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
'''


def prefix(task: str) -> str:
    """``question-answering`` -> ``QuestionAnswering``."""
    return "".join(part.capitalize() for part in task.split("-"))


def declared_fields(task: str) -> set[str]:
    """The fields the hand-written ``<Task>Input`` declares itself (read from its source)."""
    module = TASKS_DIR / f"{task.replace('-', '_')}.py"
    tree = ast.parse(module.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == f"{prefix(task)}Input":
            return {
                stmt.target.id
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            }
    msg = f"{module}: no class {prefix(task)}Input"
    raise SystemExit(msg)


class Writer:
    """Turns one task's spec into classes; nested object schemas become their own models."""

    def __init__(
        self, task: str, spec: dict[str, Any], common: dict[str, Any], shared: set[str]
    ) -> None:
        self.task, self.spec, self.common = task, spec, common
        self.shared = shared  # the common definitions already written (one class each)
        self.classes: list[str] = []

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        if "allOf" in schema and len(schema["allOf"]) == 1:
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            return self.resolve({**schema["allOf"][0], **rest})
        ref = schema.get("$ref")
        if ref is None:
            return schema
        if ref.startswith(COMMON):
            target = {**self.common["definitions"][ref.removeprefix(COMMON)], "common": True}
        else:
            target = self.spec["$defs"][ref.removeprefix("#/$defs/")]
        return {**self.resolve(target), **{k: v for k, v in schema.items() if k != "$ref"}}

    def type_of(self, schema: dict[str, Any], key: str = "") -> str:
        schema = self.resolve(schema)
        if "const" in schema:
            return f"Literal[{schema['const']!r}]"
        if "enum" in schema:
            return f"Literal[{', '.join(repr(v) for v in schema['enum'])}]"
        for union in ("oneOf", "anyOf"):
            if union in schema:
                types = [self.type_of(s) for s in schema[union]]
                if all(t.startswith("Literal[") for t in types):  # one Literal of every value
                    return "Literal[" + ", ".join(t[8:-1] for t in types) + "]"
                return " | ".join(types)
        kind = schema.get("type")
        if kind == "object":
            if "properties" not in schema:
                return "dict[str, Any]"
            title = str(schema.get("title") or prefix(key.replace("_", "-")))
            if schema.get("common"):  # shared by several tasks: one model for all
                if title not in self.shared:
                    self.shared.add(title)
                    self.model(title, schema, hidden=None)
                return title
            name = prefix(self.task) + title.removeprefix(prefix(self.task))
            self.model(name, schema, hidden=None)
            return name
        if kind == "array":
            return f"list[{self.type_of(schema.get('items', {}))}]"
        scalar = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
        if isinstance(kind, str) and kind in scalar:
            return scalar[kind]
        msg = f"{self.task}: no Python type for {schema}"
        raise SystemExit(msg)

    def model(self, name: str, schema: dict[str, Any], hidden: set[str] | None) -> None:
        """Append the wire model ``name``; with ``hidden``, also its Python-only mixin."""
        required = set(schema.get("required", ()))
        fields, skipped = [], []
        for key, prop in schema["properties"].items():
            typ = self.type_of(prop, key)
            desc = description(self.resolve(prop))
            optional = f"Field(default=None, {desc})" if desc else "None"
            if key in required:
                fields.append(f"    {key}: {typ} = Field({desc})" if desc else f"    {key}: {typ}")
            else:
                fields.append(f"    {key}: {typ} | None = {optional}")
            if hidden is not None and key not in hidden:
                if key in required:
                    msg = f"{self.task}: required {key} must be in the Input"
                    raise SystemExit(msg)
                skipped.append(f"    {key}: SkipJsonSchema[{typ} | None] = None")
        doc = schema.get("description") or f"Wire parameters of {self.task}."
        self.classes.append(
            f'class {name}(BaseModel):\n    """{one_line(doc)}"""\n\n'
            '    model_config = ConfigDict(extra="forbid")\n\n' + "\n".join(fields) + "\n"
        )
        if hidden is not None:
            mixin = prefix(self.task) + "PythonOnly"
            doc = f"{prefix(self.task)}Input's other spec parameters: Python callers only."
            doc += f"\n\n    What each means: :class:`{name}`.\n    "
            body = "\n\n" + "\n".join(skipped) if skipped else ""
            self.classes.append(f'class {mixin}(BaseModel):\n    """{doc}"""{body}\n')


def one_line(text: str) -> str:
    """The first sentence, as a docstring line that fits."""
    first = " ".join(text.split()).split(". ")[0].rstrip(".")
    first = textwrap.shorten(first, 80, placeholder="...")
    return first[:1].upper() + first[1:] + "."


def description(schema: dict[str, Any]) -> str:
    text = " ".join(str(schema.get("description", "")).split()).replace("``", "`")
    if not text:
        return ""
    parts = textwrap.wrap(text, 80, drop_whitespace=False)
    if len(text) <= 60:
        return f"description={json.dumps(text)}"
    return "description=(" + " ".join(json.dumps(p) for p in parts) + ")"


def parameters_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's parameters object; feature-extraction's options sit at the body's root."""
    props = spec["properties"]
    if "parameters" in props:
        ref = props["parameters"]["$ref"].removeprefix("#/$defs/")
        return dict(spec["$defs"][ref])
    return {"properties": {k: v for k, v in props.items() if k != "inputs"}}


def render() -> str:
    """The whole module, formatted."""
    common = json.loads((SPECS / "common-definitions.json").read_text())
    classes: list[str] = []
    names: list[str] = []
    shared: set[str] = set()
    for task in TASKS:
        spec = json.loads((SPECS / task / "input.json").read_text())
        writer = Writer(task, spec, common, shared)
        schema = parameters_schema(spec)
        schema["description"] = f"Wire parameters of {task}, as its task spec has them."
        writer.model(prefix(task) + "Parameters", schema, hidden=declared_fields(task))
        classes.extend(writer.classes)
        names.extend(c.split("(", 1)[0].removeprefix("class ") for c in writer.classes)
    exports = "\n".join(f'    "{n}",' for n in sorted(names))
    source = HEADER + f"\n__all__ = [\n{exports}\n]\n\n\n" + "\n\n".join(classes)
    return subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUT), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def main() -> int:
    """Write the module, or with ``--check`` report whether it is up to date."""
    text = render()
    if "--check" in sys.argv[1:]:
        stale = not OUT.exists() or OUT.read_text() != text
        if stale:
            print(f"{OUT.relative_to(ROOT)} is stale: run scripts/generate_parameters.py")
        return int(stale)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
