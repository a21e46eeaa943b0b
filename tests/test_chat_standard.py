"""langchain-tests' standard unit suite for HFChatModel (no network needed)."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from hf_tools import HFChatModel
from hf_tools.testing import DUMMY_TOKEN


class TestHFChatModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[HFChatModel]:
        return HFChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "meta-llama/Llama-3.1-8B-Instruct", "api_key": DUMMY_TOKEN}

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def init_from_env_params(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return ({"HF_TOKEN": "hf_from_env"}, {"model": "m"}, {})
