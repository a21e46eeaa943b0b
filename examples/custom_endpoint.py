"""Point a task at your own Inference Endpoint: its URL is used as-is.

``models={task: url}`` routes one task to a dedicated endpoint (other tasks stay on the
router); ``base_url=url, is_custom_endpoint=True`` sends every task to that one URL.

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
    with replay("client/custom-endpoint.yaml"):
        toolkit = HuggingFaceToolkit(
            tasks=["text-classification"], models={"text-classification": url}
        )
        tool = toolkit.get_tool("text_classification")
        print(f"{tool.metadata['hf_model'] if tool.metadata else url}:")
        print(tool.invoke({"text": "I like you"}))


if __name__ == "__main__":
    main()
