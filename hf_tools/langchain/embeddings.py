"""HFEmbeddings: LangChain ``Embeddings`` over feature extraction, for vector stores.

``embed_documents`` sends ``batch_size`` texts per request (the async twin sends up to
``max_concurrency`` batches at once); every request is one :meth:`hf_tools.HFClient.run` of
feature-extraction, on hf-inference or any provider that serves embeddings
(``provider="together"``, ``"nebius"``...).
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import ConfigDict, Field

from hf_tools.errors import ResponseFormatError
from hf_tools.langchain._client_fields import HFClientFields
from hf_tools.tasks.feature_extraction import FeatureExtractionOutput

__all__ = ["HFEmbeddings"]

_TASK = "feature-extraction"


class HFEmbeddings(HFClientFields, Embeddings):
    """Sentence embeddings from Hugging Face feature extraction.

    Example:
        ```python
        from hf_tools import HFEmbeddings

        embeddings = HFEmbeddings(model="sentence-transformers/all-MiniLM-L6-v2")
        vectors = embeddings.embed_documents(["a cat", "a dog"])
        ```

    The model must give one vector per text (a sentence-transformers model); a model that
    answers token-level vectors raises ``ResponseFormatError``.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    batch_size: int = Field(default=32, ge=1, description="Texts sent per request.")
    max_concurrency: int = Field(
        default=4, ge=1, description="Batches in flight at once (async): rate limits stay sane."
    )
    normalize: bool | None = None
    truncate: bool | None = None

    def _batches(self, texts: list[str]) -> list[dict[str, Any]]:
        options = {"normalize": self.normalize, "truncate": self.truncate}
        options = {k: v for k, v in options.items() if v is not None}
        size = self.batch_size
        return [
            {"texts": texts[i : i + size], "model": self.model, **options}
            for i in range(0, len(texts), size)
        ]

    def _vectors(self, out: FeatureExtractionOutput) -> list[list[float]]:
        if not out.pooled:
            msg = (
                f"{self.model or 'the model'} answered token-level vectors (shape {out.shape}),"
                " not one vector per text: use a sentence-embedding model"
            )
            raise ResponseFormatError(msg, task=_TASK, model=self.model)
        return [[float(x) for x in vector] for vector in out.vectors]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, ``batch_size`` texts per request."""
        vectors: list[list[float]] = []
        for batch in self._batches(texts):
            vectors += self._vectors(self.client.run(_TASK, **batch))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents`, up to ``max_concurrency`` batches at once (order kept)."""
        gate = asyncio.Semaphore(self.max_concurrency)

        async def embed(batch: dict[str, Any]) -> FeatureExtractionOutput:
            async with gate:
                out: FeatureExtractionOutput = await self.aclient.run(_TASK, **batch)
                return out

        outs = await asyncio.gather(*(embed(b) for b in self._batches(texts)))
        return [v for out in outs for v in self._vectors(out)]

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` for async callers."""
        return (await self.aembed_documents([text]))[0]
