"""table-question-answering: answer a question about a small table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    parse_as,
    require_fields,
    wire_parameters,
)
from hf_tools.tasks._parameters import (
    TableQuestionAnsweringParameters,
    TableQuestionAnsweringPythonOnly,
)

_TASK = "table-question-answering"
_REQUIRED = ("answer", "coordinates", "cells")  # the task spec's required fields


class TableColumn(BaseModel):
    """One column of a table: its name and its cells, top to bottom."""

    model_config = ConfigDict(extra="forbid")

    # No field descriptions: the names say it, and each is paid on every call.
    column: str
    cells: list[str]

    @field_validator("cells", mode="before")
    @classmethod
    def _numbers_as_text(cls, cells: Any) -> Any:
        # The server reads every cell as text; an LLM often writes numbers as numbers.
        if not isinstance(cells, list):
            return cells
        return [
            str(c) if isinstance(c, int | float) and not isinstance(c, bool) else c for c in cells
        ]


def _columns(table: Any) -> Any:
    # Python callers (and the older schema) give {column: [cells]}: the same table.
    if isinstance(table, Mapping):
        return [{"column": name, "cells": cells} for name, cells in table.items()]
    return table


def _rectangular(table: list[TableColumn]) -> list[TableColumn]:
    if not table:
        msg = "the table needs at least one column"
        raise ValueError(msg)
    if len({c.column for c in table}) != len(table):
        msg = "column names must be unique"
        raise ValueError(msg)
    lengths = {len(c.cells) for c in table}
    if len(lengths) != 1:
        msg = f"all columns must have the same number of cells, got lengths {sorted(lengths)}"
        raise ValueError(msg)
    return table


# Named columns, not {column: [cells]}: an open map has no schema in OpenAI strict mode or
# Gemini's subset. The wire format is still the map (see :func:`as_map`).
Table = Annotated[
    list[TableColumn],
    Field(description="Columns of equal length."),
    BeforeValidator(_columns),
    AfterValidator(_rectangular),
]
"""A table argument: a list of named columns (or, from Python, a ``{column: [cells]}`` map)."""


def as_map(table: list[TableColumn]) -> dict[str, list[str]]:
    """The table as the wire carries it: ``{column: [cells]}``."""
    return {c.column: c.cells for c in table}


class TableQuestionAnsweringInput(ToolInput, TableQuestionAnsweringPythonOnly):
    """Arguments of the table_question_answering tool."""

    question: str = Field(min_length=1, description="Question about the table.")
    table: Table


class TableQuestionAnsweringOutput(BaseModel):
    """The answer and the cells it came from."""

    model_config = ConfigDict(extra="allow")

    answer: str
    coordinates: list[list[int]] = Field(default_factory=list)
    cells: list[str] = Field(default_factory=list)
    aggregator: str | None = None


def build(args: TableQuestionAnsweringInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": {"query", "table"}, "parameters": {}}``."""
    table = as_map(args.table)
    params = wire_parameters(TableQuestionAnsweringParameters, args)
    inputs = {"query": args.question, "table": table}
    return Payload(json={"inputs": inputs, "parameters": params})


def parse(data: Any, args: TableQuestionAnsweringInput) -> TableQuestionAnsweringOutput:
    """One object, or a one-element list of it (task spec)."""
    if isinstance(data, list) and data:
        data = data[0]
    require_fields(
        data, _TASK, "an {answer, coordinates, cells}", ("answer", "coordinates", "cells")
    )
    return parse_as(TableQuestionAnsweringOutput, data, "table-question-answering", "answer")


def render(out: TableQuestionAnsweringOutput) -> str:
    """``AVERAGE > 36542 (cells: 36542; aggregator AVERAGE)``."""
    details = []
    if out.cells:
        details.append("cells: " + ", ".join(out.cells[:20]))
    if out.aggregator and out.aggregator != "NONE":
        details.append(f"aggregator {out.aggregator}")
    return out.answer + (f" ({'; '.join(details)})" if details else "")


SPEC = TaskSpec(
    task="table-question-answering",
    description="Answer a question about a small table. Returns the answer and the cells used.",
    input_model=TableQuestionAnsweringInput,
    output_model=TableQuestionAnsweringOutput,
    render=render,
    default_model="google/tapas-base-finetuned-wtq",
    serving=(("hf-inference", "google/tapas-base-finetuned-wtq"),),
    family="text",
    example={
        "question": "How many stars does the transformers repository have?",
        "table": [
            {"column": "Repository", "cells": ["Transformers", "Datasets", "Tokenizers"]},
            {"column": "Stars", "cells": ["36542", "4512", "3934"]},
        ],
    },
    hf_inference=HFInferenceWire(build, parse),
)
