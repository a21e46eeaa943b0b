"""hf-tools: every Hugging Face inference task as a tool, over a LangChain-free core.

The typed clients (:class:`HFClient`, :class:`AsyncHFClient`), the host-neutral
:class:`Toolset`, the error tree, and the LangChain adapter (:class:`HuggingFaceToolkit`,
:class:`HFChatModel`, :class:`Agent`...), each imported on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hf_tools.client import AsyncHFClient, HFClient
    from hf_tools.config import RetryPolicy, Settings
    from hf_tools.errors import (
        APIError,
        AuthenticationError,
        ConfigurationError,
        HFConnectionError,
        HFTimeoutError,
        HFToolsError,
        InputError,
        InvalidInputError,
        JobCancelledError,
        JobFailedError,
        MediaError,
        ModelLoadingError,
        ModelNotFoundError,
        NoProviderError,
        PaymentRequiredError,
        RateLimitError,
        ResponseFormatError,
        ResponseTooLargeError,
        ResultDownloadError,
        ServerError,
    )
    from hf_tools.langchain.agent import Agent, AgentResult
    from hf_tools.langchain.chat import HFChatModel
    from hf_tools.langchain.embeddings import HFEmbeddings
    from hf_tools.langchain.llm import HFLLM
    from hf_tools.langchain.toolkit import HuggingFaceToolkit
    from hf_tools.langchain.tools import HFTool, HFToolError, make_tool
    from hf_tools.tasks import REGISTRY, TaskSpec, get_spec
    from hf_tools.toolset import Tool, ToolFailure, ToolResult, Toolset

__version__ = "0.1.0"

__all__ = [
    "HFLLM",
    "REGISTRY",
    "APIError",
    "Agent",
    "AgentResult",
    "AsyncHFClient",
    "AuthenticationError",
    "ConfigurationError",
    "HFChatModel",
    "HFClient",
    "HFConnectionError",
    "HFEmbeddings",
    "HFTimeoutError",
    "HFTool",
    "HFToolError",
    "HFToolsError",
    "HuggingFaceToolkit",
    "InputError",
    "InvalidInputError",
    "JobCancelledError",
    "JobFailedError",
    "MediaError",
    "ModelLoadingError",
    "ModelNotFoundError",
    "NoProviderError",
    "PaymentRequiredError",
    "RateLimitError",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "ResultDownloadError",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "TaskSpec",
    "Tool",
    "ToolFailure",
    "ToolResult",
    "Toolset",
    "get_spec",
    "make_tool",
]

# Every name loads on first use: the HTTP stack and the task registry take ~0.3 s to import,
# LangChain's tool machinery ~0.3 s more (most of it langsmith); `hf-tools --help` and code
# that only uses HFClient pay for neither.
_ERRORS = [n for n in __all__ if n.endswith("Error") and n not in ("HFToolError",)]
_LAZY = {
    **dict.fromkeys(_ERRORS, "hf_tools.errors"),
    "AsyncHFClient": "hf_tools.client",
    "HFClient": "hf_tools.client",
    "RetryPolicy": "hf_tools.config",
    "Settings": "hf_tools.config",
    "REGISTRY": "hf_tools.tasks",
    "TaskSpec": "hf_tools.tasks",
    "get_spec": "hf_tools.tasks",
    **dict.fromkeys(["Tool", "ToolFailure", "ToolResult", "Toolset"], "hf_tools.toolset"),
    "Agent": "hf_tools.langchain.agent",
    "AgentResult": "hf_tools.langchain.agent",
    "HFChatModel": "hf_tools.langchain.chat",
    "HFEmbeddings": "hf_tools.langchain.embeddings",
    "HFLLM": "hf_tools.langchain.llm",
    "HuggingFaceToolkit": "hf_tools.langchain.toolkit",
    "HFTool": "hf_tools.langchain.tools",
    "HFToolError": "hf_tools.langchain.tools",
    "make_tool": "hf_tools.langchain.tools",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first asked for."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'hf_tools' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
