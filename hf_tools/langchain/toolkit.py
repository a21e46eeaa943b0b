"""HuggingFaceToolkit: the tools an agent may choose from, built from the task registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from hf_tools.client import AnySpec, AsyncHFClient, Closeable, HFClient
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
from hf_tools.langchain.tools import make_tool
from hf_tools.tasks import REGISTRY, get_spec

__all__ = ["HuggingFaceToolkit"]


class HuggingFaceToolkit(BaseToolkit, Closeable):
    """Hugging Face inference tasks as LangChain tools, in a stable order.

    Example:
        ```python
        toolkit = HuggingFaceToolkit(tasks=["summarization", "translation"])
        tools = toolkit.get_tools()
        toolkit.get_tool("summarization").invoke({"text": "..."})
        ```

    Tasks that only exist as a configured endpoint (``custom``) are included when
    ``models`` gives their URL. ``close()`` / ``aclose()`` (or ``with`` / ``async with``) free
    the connection pools of both clients.
    """

    # A misspelled option (token=, max_retry=) must fail, not be dropped silently.
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    api_key: SecretStr | None = Field(default=None, description="Default: env HF_TOKEN.")
    base_url: str | None = None
    is_custom_endpoint: bool = False
    tasks: list[str] | None = None
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
        description='None: hf-inference, no Hub lookup; "auto"; or a provider name ("fal-ai").',
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

    _client: HFClient = PrivateAttr()
    _aclient: AsyncHFClient = PrivateAttr()
    _tools: list[BaseTool] = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Validate the selection, build the shared clients and the tools once."""
        settings = self.settings or Settings.create(**settings_arguments(self))
        if self.settings is not None and self.model_fields_set & set(SETTINGS_PARAMETERS):
            msg = "pass settings= or the settings' arguments, not both"
            raise ConfigurationError(msg)
        if self.tasks is None:
            # Every task these settings can serve: endpoint-only tasks (custom) when their
            # endpoint is configured, and with a named provider the tasks it has adapters for.
            specs = [s for s in REGISTRY.values() if _servable(settings, s)]
        else:
            # make_tool asks the client where each goes, which refuses a missing endpoint.
            specs = [get_spec(t) for t in dict.fromkeys(self.tasks)]
            for spec in specs:
                settings.provider_for(spec.task)  # a provider without an adapter fails now
        self._client = HFClient(settings=settings)
        self._aclient = AsyncHFClient(settings=settings)
        self._tools = [
            make_tool(
                spec,
                self._client,
                self._aclient,
                description=self.custom_description if spec.needs_endpoint else None,
            )
            for spec in specs
        ]

    def get_tools(self) -> list[BaseTool]:
        """The selected tools, in registry order (or the order of ``tasks``)."""
        return list(self._tools)

    def get_tool(self, name: str) -> BaseTool:
        """One tool by name (``text_classification``) or task id (``text-classification``).

        Raises:
            KeyError: no such tool in this toolkit; the message lists the available ones.
        """
        wanted = name.replace("-", "_")
        for tool in self._tools:
            if tool.name == wanted:
                return tool
        msg = f"no tool {name!r} in this toolkit; available: {', '.join(self.tool_names)}"
        raise KeyError(msg)

    @property
    def tool_names(self) -> list[str]:
        """Names of the selected tools."""
        return [t.name for t in self._tools]

    @property
    def client(self) -> HFClient:
        """The shared blocking client."""
        return self._client

    @property
    def async_client(self) -> AsyncHFClient:
        """The shared async client."""
        return self._aclient

    def close(self) -> None:
        """Close the pools of both clients (the async one's in every event loop)."""
        self._client.close()
        self._aclient.close()

    async def aclose(self) -> None:
        """Close the pools of both clients, the running loop's awaited."""
        self._client.close()
        await self._aclient.aclose()


def _servable(settings: Settings, spec: AnySpec) -> bool:
    """Whether ``spec`` can be served with ``settings`` (no request is made to know)."""
    if spec.needs_endpoint:
        return settings.endpoint_for(spec.task) is not None
    try:
        settings.provider_for(spec.task)
    except ConfigurationError:
        return False
    return True
