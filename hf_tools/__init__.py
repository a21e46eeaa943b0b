"""hf-tools: every Hugging Face inference task as a LangChain structured tool."""

from hf_tools.agent import Agent, AgentResult
from hf_tools.chat import HFChatModel
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
    MediaError,
    ModelLoadingError,
    ModelNotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from hf_tools.tasks import REGISTRY, TaskSpec, get_spec
from hf_tools.toolkit import HuggingFaceToolkit
from hf_tools.tools import HFTool, make_tool

__version__ = "0.1.0"

__all__ = [
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
    "HFTimeoutError",
    "HFTool",
    "HFToolsError",
    "HuggingFaceToolkit",
    "InputError",
    "InvalidInputError",
    "MediaError",
    "ModelLoadingError",
    "ModelNotFoundError",
    "PaymentRequiredError",
    "RateLimitError",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "TaskSpec",
    "get_spec",
    "make_tool",
]
