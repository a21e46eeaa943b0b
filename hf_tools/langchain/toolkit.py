"""HuggingFaceToolkit: the tools an agent may choose from, built from the task registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from hf_tools.client import AsyncHFClient, Closeable, HFClient
from hf_tools.config import (
    DEFAULT_MAX_BINARY_BYTES,
    DEFAULT_MAX_CONTENT_CHARS,
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_MAX_MEDIA_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    MIN_CONTENT_CHARS,
    SETTINGS_PARAMETERS,
    RetryPolicy,
    Settings,
    settings_arguments,
)
from hf_tools.errors import ConfigurationError
from hf_tools.langchain.tools import as_langchain_tool
from hf_tools.toolset import Toolset

__all__ = ["HuggingFaceToolkit"]


class HuggingFaceToolkit(BaseToolkit, Closeable):
    """Hugging Face inference tasks as LangChain tools, in a stable order.

    Example:
        ```python
        toolkit = HuggingFaceToolkit(tasks=["summarization", "translation"])
        tools = toolkit.get_tools()
        toolkit.get_tool("summarization").invoke({"text": "..."})
        ```

    Which tools are offered, and how each call runs and fails, is the core
    :class:`~hf_tools.toolset.Toolset`'s (:attr:`toolset`); this class only wraps its tools for
    LangChain. ``families=["vision", ...]`` offers whole families; ``tasks`` names tools; with
    both, the union. Tasks that only exist as a configured endpoint (``custom``) are included
    when ``models`` gives their URL. ``close()`` / ``aclose()`` (or ``with`` / ``async with``) free
    the connection pools of both clients.
    """

    # A misspelled option (token=, max_retry=) must fail, not be dropped silently.
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    api_key: SecretStr | None = Field(default=None, description="Default: env HF_TOKEN.")
    base_url: str | None = None
    is_custom_endpoint: bool = False
    tasks: list[str] | None = None
    families: list[str] | None = Field(
        default=None, description="Tool families to offer: text, vision, audio, generation, custom."
    )
    models: dict[str, str] | None = None
    use_cache: bool | None = None
    wait_for_model: bool | None = None
    timeout: float = Field(
        default=DEFAULT_TIMEOUT, description="Seconds for a whole call, retries included."
    )
    max_retries: int | None = Field(
        default=None,
        description=f"Retries per call (default {DEFAULT_MAX_RETRIES}); overrides retry's.",
    )
    retry: RetryPolicy | None = Field(default=None, description="Full retry policy.")
    max_content_chars: int = Field(default=DEFAULT_MAX_CONTENT_CHARS, ge=MIN_CONTENT_CHARS)
    output_dir: Path | None = None
    allowed_roots: list[Path] | None = None
    allow_private_urls: bool = False
    max_media_bytes: int = Field(default=DEFAULT_MAX_MEDIA_BYTES, description="Largest input.")
    max_json_bytes: int = Field(
        default=DEFAULT_MAX_JSON_BYTES, description="Largest JSON answer read (decompressed)."
    )
    max_binary_bytes: int = Field(
        default=DEFAULT_MAX_BINARY_BYTES, description="Largest binary answer (images, audio)."
    )
    provider: str | None = Field(
        default=None,
        description=(
            'None: "auto" with a token (the Hub mapping\'s first live provider), else'
            ' hf-inference; "hf-inference" (no Hub lookup); or a provider name ("fal-ai").'
        ),
    )
    providers: dict[str, str] | None = Field(
        default=None, description="{task id or tool name: provider}, overrides `provider`."
    )
    router_url: str | None = None
    hub_url: str | None = None
    bill_to: str | None = Field(default=None, description="Sent as X-HF-Bill-To.")
    provider_order: list[str] | None = None
    custom_description: str | None = Field(
        default=None, description="Description of the custom endpoint tool, for the LLM."
    )
    settings: Settings | None = Field(
        default=None, description="Ready settings, instead of the fields above that state them."
    )
    transport: Any = Field(
        default=None,
        exclude=True,
        description="An httpx2 transport for every request (tests: httpx2.MockTransport).",
    )

    _toolset: Toolset = PrivateAttr()
    _tools: list[BaseTool] = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Validate the selection and build the tools once (the clients come at the first call)."""
        settings = self.settings or Settings.create(**settings_arguments(self))
        if self.settings is not None and self.model_fields_set & set(SETTINGS_PARAMETERS):
            msg = "pass settings= or the settings' arguments, not both"
            raise ConfigurationError(msg)
        self._toolset = Toolset(
            settings,
            tasks=self.tasks,
            families=self.families,
            custom_description=self.custom_description,
            transport=self.transport,
        )
        self._tools = [as_langchain_tool(tool) for tool in self._toolset.tools]

    def get_tools(self) -> list[BaseTool]:
        """The selected tools, in registry order (or the order of ``tasks``)."""
        return list(self._tools)

    def get_tool(self, name: str) -> BaseTool:
        """One tool by name (``text_classification``) or task id (``text-classification``).

        Raises:
            KeyError: no such tool in this toolkit; the message lists the available ones.
        """
        return self._tools[self._toolset.names.index(self._toolset.get(name).name)]

    @property
    def tool_names(self) -> list[str]:
        """Names of the selected tools."""
        return [t.name for t in self._tools]

    @property
    def toolset(self) -> Toolset:
        """The host-neutral toolset these tools wrap (what an MCP server or a batch uses)."""
        return self._toolset

    @property
    def client(self) -> HFClient:
        """The shared blocking client (made now if no call has made it yet)."""
        return self._toolset.client

    @property
    def async_client(self) -> AsyncHFClient:
        """The shared async client (made now if no call has made it yet)."""
        return self._toolset.async_client

    def close(self) -> None:
        """Close the pools of both clients (the async one's in every event loop)."""
        self._toolset.close()

    async def aclose(self) -> None:
        """Close the pools of both clients, the running loop's awaited."""
        await self._toolset.aclose()
