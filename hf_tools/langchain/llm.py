"""HFLLM: a LangChain completion model (``BaseLLM``) over the text-generation task.

What ``HuggingFaceEndpoint`` is to langchain-huggingface users: a prompt in, text out, with
``invoke``/``batch``/``stream`` and their async twins. Every call is one
:meth:`hf_tools.HFClient.run` (or :meth:`~hf_tools.HFClient.stream`): same routing
(hf-inference's TGI, or a provider's ``/v1/completions``), deadline, caps and errors as every
task call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import ConfigDict

from hf_tools.langchain._client_fields import HFClientFields
from hf_tools.tasks.text_generation import (
    TextGenerationOutput,
    TextGenerationParameters,
    TextGenerationStreamOutput,
)

__all__ = ["HFLLM"]

_TASK = "text-generation"


class HFLLM(HFClientFields, TextGenerationParameters, BaseLLM):
    """Completion model over Hugging Face text generation (TGI, or a provider's completions).

    Example:
        ```python
        from hf_tools import HFLLM

        llm = HFLLM(model="mistralai/Mixtral-8x7B-v0.1", provider="together", max_new_tokens=20)
        for chunk in llm.stream("Paris is"):
            print(chunk, end="")
        ```

    The generation parameters are text-generation's (:class:`TextGenerationParameters`:
    ``max_new_tokens``, ``temperature``, ``top_p``, ``top_k``, ``repetition_penalty``,
    ``do_sample``, ``return_full_text``, ``stop``, ``seed``, ``details``), sent only when set;
    call-time keyword arguments override them. ``temperature=0`` is greedy decoding (sent to
    TGI as ``do_sample: false``). Special tokens (``</s>``) are left out of streamed text.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "huggingface-text-generation"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "provider": self.provider, **self._defaults()}

    def _defaults(self) -> dict[str, Any]:
        names = TextGenerationParameters.model_fields
        return {n: v for n in names if (v := getattr(self, n)) is not None}

    def _args(self, prompt: str, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        args = {**self._defaults(), **kwargs, "prompt": prompt}
        if stop is not None:
            args["stop"] = stop
        return args

    @staticmethod
    def _generation(out: TextGenerationOutput) -> list[Generation]:
        info = {
            "finish_reason": (out.details or {}).get("finish_reason"),
            "dropped_parameters": out.dropped_parameters,
        }
        info = {k: v for k, v in info.items() if v is not None}
        return [Generation(text=out.generated_text, generation_info=info or None)]

    @staticmethod
    def _chunk(item: TextGenerationStreamOutput) -> GenerationChunk | None:
        if item.special:
            return None
        info = {"finish_reason": item.finish_reason} if item.finish_reason else None
        return GenerationChunk(text=item.text, generation_info=info)

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        outs = [
            self.client.run(_TASK, model=self.model, **self._args(p, stop, kwargs)) for p in prompts
        ]
        return LLMResult(generations=[self._generation(o) for o in outs])

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        calls = [
            self.aclient.run(_TASK, model=self.model, **self._args(p, stop, kwargs))
            for p in prompts
        ]
        outs = await asyncio.gather(*calls)
        return LLMResult(generations=[self._generation(o) for o in outs])

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for item in self.client.stream(_TASK, model=self.model, **self._args(prompt, stop, kwargs)):
            chunk = self._chunk(item)
            if chunk is None:
                continue
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        args = self._args(prompt, stop, kwargs)
        async for item in self.aclient.astream(_TASK, model=self.model, **args):
            chunk = self._chunk(item)
            if chunk is None:
                continue
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
