"""table-question-answering: answer a question about a small table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hf_tools.tasks._base import Media, Payload, TaskSpec, ToolInput, parse_as


class TableQuestionAnsweringInput(ToolInput):
    """Arguments of the table_question_answering tool."""

    query: str = Field(min_length=1, description="Question about the table.")
    table: dict[str, list[str]] = Field(description="{column: [cells]}, columns of equal length.")

    @field_validator("table", mode="before")
    @classmethod
    def _numbers_as_text(cls, table: Any) -> Any:
        # The server reads every cell as text; an LLM often writes numbers as numbers.
        if not isinstance(table, Mapping):
            return table
        return {
            column: [
                str(c) if isinstance(c, int | float) and not isinstance(c, bool) else c
                for c in cells
            ]
            if isinstance(cells, list)
            else cells
            for column, cells in table.items()
        }

    @field_validator("table")
    @classmethod
    def _rectangular(cls, table: dict[str, list[str]]) -> dict[str, list[str]]:
        if not table:
            msg = "the table needs at least one column"
            raise ValueError(msg)
        lengths = {len(cells) for cells in table.values()}
        if len(lengths) != 1:
            msg = f"all columns must have the same number of cells, got lengths {sorted(lengths)}"
            raise ValueError(msg)
        return table


class TableQuestionAnsweringOutput(BaseModel):
    """The answer and the cells it came from."""

    model_config = ConfigDict(extra="allow")

    answer: str
    coordinates: list[list[int]] = Field(default_factory=list)
    cells: list[str] = Field(default_factory=list)
    aggregator: str | None = None


def build(args: TableQuestionAnsweringInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": {"query", "table"}, "parameters": {}}``."""
    return Payload(json={"inputs": {"query": args.query, "table": args.table}, "parameters": {}})


def parse(data: Any, args: TableQuestionAnsweringInput) -> TableQuestionAnsweringOutput:
    """One object, or a one-element list of it (task spec)."""
    if isinstance(data, list) and data:
        data = data[0]
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
    build=build,
    parse=parse,
    render=render,
    default_model="google/tapas-base-finetuned-wtq",
    example={
        "query": "How many stars does the transformers repository have?",
        "table": {
            "Repository": ["Transformers", "Datasets", "Tokenizers"],
            "Stars": ["36542", "4512", "3934"],
        },
    },
)
