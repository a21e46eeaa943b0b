"""The agent the chatbot runs: every tool, its system prompt, no local file unless allowed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from hf_tools.assistant import build_agent
from hf_tools.langchain.agent import Agent
from hf_tools.langchain.toolkit import HuggingFaceToolkit


def system_prompt(local_files: bool = False) -> str:
    """The server's system prompt; it mentions local paths only when tools may read them."""
    media = "media arguments (images, audio) take an http(s) URL or base64 data"
    if local_files:
        media += ", or a local file path inside the folders this server allows"
    else:
        media += "; local file paths are refused"
    return (
        "You are a helpful assistant with Hugging Face tools for text, images and audio. "
        f"Use a tool when it helps; {media}. Answer briefly."
    )


def build_server_agent(
    model: BaseChatModel | None = None,
    *,
    model_id: str | None = None,
    chat_base_url: str | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    tasks: list[str] | None = None,
    allow_files: Sequence[Path] = (),
    output_dir: Path | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Agent:
    """The agent the server runs: every tool, and no local file unless ``allow_files`` says.

    Args:
        model: the chat model (default: ``HFChatModel(model_id)``).
        model_id: chat model id when ``model`` is not given.
        chat_base_url: the chat model's OpenAI-compatible ``/v1`` base (default: HF router).
        base_url: the tools' inference server (default: Hugging Face).
        provider: the tools' inference provider (default: "auto" with a token, else hf-inference).
        tasks: task ids to offer (default: all).
        allow_files: folders tools may read local media from (default: none).
        output_dir: folder the tools also write their files to (default: none).
        settings: the tools' other settings (``Settings.create`` arguments, from the flags).
    """
    toolkit = HuggingFaceToolkit(
        tasks=tasks,
        allowed_roots=list(allow_files),  # empty: no local files at all
        base_url=base_url,
        provider=provider,
        output_dir=output_dir,
        **(settings or {}),
    )
    return build_agent(
        model,
        toolkit,
        model_id=model_id,
        chat_base_url=chat_base_url,
        system_prompt=system_prompt(local_files=bool(allow_files)),
    )
