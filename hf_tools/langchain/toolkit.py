"""HuggingFaceToolkit: the tools an agent may choose from, built from the task registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from hf_tools.catalog import served_model
from hf_tools.client import AnySpec, AsyncHFClient, Closeable, HFClient, split_transport
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
    transport: Any = Field(
        default=None,
        exclude=True,
        description="An httpx2 transport for every request (tests: httpx2.MockTransport).",
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
            # Every task these settings can serve (catalog.served_model, no request made).
            served = {s.task: m for s in REGISTRY.values() if (m := _served(settings, s))}
        else:
            # A task asked for by name that nothing serves fails now, naming what would.
            served = {
                spec.task: served_model(settings, spec)
                for spec in (get_spec(t) for t in dict.fromkeys(self.tasks))
            }
        settings = _with_provider_defaults(settings, served)
        specs = [get_spec(task) for task in served]
        sync, async_ = split_transport(self.transport)
        self._client = HFClient(settings=settings, transport=sync)
        self._aclient = AsyncHFClient(settings=settings, transport=async_)
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


def _served(settings: Settings, spec: AnySpec) -> str | None:
    """The model ``spec`` is served with under ``settings``, or None when nothing serves it."""
    try:
        return served_model(settings, spec)
    except ConfigurationError:
        return None


def _with_provider_defaults(settings: Settings, served: dict[str, str]) -> Settings:
    """``settings`` with the chosen providers' own default models where they differ.

    A named provider may serve a task with another model than the task's default (fal-ai's
    ASR is Whisper): the tool must send that one. Models the user named stay as given.
    """
    extra = {
        task: model
        for task, model in served.items()
        if task not in settings.models
        and not get_spec(task).needs_endpoint
        and model != get_spec(task).default_model
    }
    if not extra:
        return settings
    return replace(settings, models={**settings.models, **extra})
