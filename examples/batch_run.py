"""Label a file of reviews with one call per row, resumable, with a record per row.

``hf_tools.batch.run`` is what ``hf-tools batch`` runs: rerun it with the same output and
the rows already there are skipped (by id); failed rows keep their error.

Live:    HF_TOKEN=hf_... python examples/batch_run.py
Offline: HF_TOOLS_REPLAY=1 python examples/batch_run.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hf_tools import batch
from hf_tools.testing import replay

REVIEWS = [
    "I like you",
    "The battery died after two days.",
    "Fast shipping, works as described.",
    "Not worth the money.",
    "My kids love it.",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        reviews = Path(folder) / "reviews.jsonl"
        rows = [{"custom_id": f"review-{i}", "body": text} for i, text in enumerate(REVIEWS)]
        reviews.write_text("".join(json.dumps(row) + "\n" for row in rows))
        labels = Path(folder) / "labels.jsonl"
        with replay("text-classification/batch.yaml"):
            first = batch.run(
                "text-classification",
                reviews,
                output=labels,
                mapping={"text": "body"},  # the argument `text` comes from the column `body`
                concurrency=3,
                progress=False,
            )
            again = batch.run(  # the same job again: nothing left to do
                "text-classification",
                reviews,
                output=labels,
                mapping={"text": "body"},
                progress=False,
            )
        print(f"done {first.done}, failed {first.failed}; rerun skipped {again.skipped}")
        records = {r["id"]: r for r in map(json.loads, labels.read_text().splitlines())}
        for row in rows:
            top = records[row["custom_id"]]["output"]["labels"][0]
            print(f"{top['label']:<10} {row['body']}")


if __name__ == "__main__":
    main()
