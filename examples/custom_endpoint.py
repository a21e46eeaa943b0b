"""Call your own Inference Endpoint through the ``custom`` tool: its URL is used as-is.

``models={"custom": url}`` adds a tool bound to that endpoint; ``custom_description`` tells the
LLM what it does. The LLM writes the JSON body (``{"inputs": ..., "parameters"?: ...}``) and reads
the endpoint's JSON answer. (To route a *known* task to an endpoint instead, use
``models={"text-classification": url}``; ``base_url=url, is_custom_endpoint=True`` sends every
task to that one URL.)

Live:    HF_TOKEN=hf_... ENDPOINT_URL=https://....endpoints.huggingface.cloud \
         python examples/custom_endpoint.py
Offline: HF_TOOLS_REPLAY=1 python examples/custom_endpoint.py
"""

from __future__ import annotations

import os

from hf_tools import HuggingFaceToolkit
from hf_tools.testing import replay

# The URL the offline recording was made for.
RECORDED_URL = "https://my-sentiment.us-east-1.aws.endpoints.huggingface.cloud"


def main() -> None:
    url = os.environ.get("ENDPOINT_URL", RECORDED_URL)
    with replay("custom/success.yaml"):
        toolkit = HuggingFaceToolkit(
            tasks=["custom"],
            models={"custom": url},
            custom_description="Sentiment (POSITIVE or NEGATIVE) of an English text.",
        )
        tool = toolkit.get_tool("custom")
        print(f"{tool.name} -> {url}: {tool.description}")
        print(tool.invoke({"payload": {"inputs": "I like you", "parameters": {}}}))


if __name__ == "__main__":
    main()
