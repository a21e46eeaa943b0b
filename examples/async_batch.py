"""Classify many texts concurrently, at most N requests in flight.

``abatch`` runs the tool's native async path; ``max_concurrency`` bounds the requests that
share the toolkit's one connection pool.

Live:    HF_TOKEN=hf_... python examples/async_batch.py
Offline: HF_TOOLS_REPLAY=1 python examples/async_batch.py
"""

from __future__ import annotations

import asyncio

from hf_tools import HuggingFaceToolkit
from hf_tools.testing import replay

REVIEWS = [
    "I like you",
    "The battery died after two days.",
    "Fast shipping, works as described.",
    "Not worth the money.",
    "My kids love it.",
]


async def main() -> None:
    with replay("text-classification/batch.yaml"):
        toolkit = HuggingFaceToolkit(tasks=["text-classification"])
        tool = toolkit.get_tool("text_classification")
        results = await tool.abatch(
            [{"text": review} for review in REVIEWS], config={"max_concurrency": 3}
        )
        await toolkit.async_client.aclose()
    for review, labels in zip(REVIEWS, results, strict=True):
        print(f"{labels.split(',')[0]:<16} {review}")


if __name__ == "__main__":
    asyncio.run(main())
