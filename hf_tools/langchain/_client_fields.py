"""The settings and clients HFLLM and HFEmbeddings share: one HFClient / AsyncHFClient each."""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, model_validator

from hf_tools.client import AsyncHFClient, Closeable, HFClient
from hf_tools.config import DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Settings


class HFClientFields(BaseModel, Closeable):
    """Fields that become :class:`~hf_tools.config.Settings`, and the clients built on them."""

    model: str | None = Field(default=None, description="Hub model id or endpoint URL.")
    provider: str | None = Field(
        default=None,
        description='"auto" (the default with a token, else "hf-inference"), "together", ...',
    )
    api_key: SecretStr | None = Field(default=None, repr=False)
    base_url: str | None = None
    router_url: str | None = None
    bill_to: str | None = None
    timeout: float = Field(default=DEFAULT_TIMEOUT, description="Seconds for a whole call.")
    max_retries: int | None = Field(
        default=None, description=f"Retries per call (default {DEFAULT_MAX_RETRIES})."
    )
    max_json_bytes: int = Field(default=DEFAULT_MAX_JSON_BYTES, description="Largest answer read.")

    _settings: Settings = PrivateAttr()
    _client: HFClient | None = PrivateAttr(default=None)
    _aclient: AsyncHFClient | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _build_settings(self) -> Any:
        self._settings = Settings.create(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            max_json_bytes=self.max_json_bytes,
            provider=self.provider,
            router_url=self.router_url,
            bill_to=self.bill_to,
        )
        return self

    @property
    def client(self) -> HFClient:
        """The blocking client (created on first use, then reused: one connection pool)."""
        with self._lock:
            if self._client is None:
                self._client = HFClient(settings=self._settings)
            return self._client

    @property
    def aclient(self) -> AsyncHFClient:
        """The asyncio client (one pool per event loop)."""
        with self._lock:
            if self._aclient is None:
                self._aclient = AsyncHFClient(settings=self._settings)
            return self._aclient

    def close(self) -> None:
        """Close both clients' pools."""
        for client in (self._client, self._aclient):
            if client is not None:
                client.close()

    async def aclose(self) -> None:
        """Close both clients' pools, this loop's awaited."""
        if self._client is not None:
            self._client.close()
        if self._aclient is not None:
            await self._aclient.aclose()
