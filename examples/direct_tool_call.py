"""Call one tool directly, the way an agent does: a ToolCall in, a ToolMessage out.

Live:    HF_TOKEN=hf_... python examples/direct_tool_call.py
Offline: HF_TOOLS_REPLAY=1 python examples/direct_tool_call.py
"""

from __future__ import annotations

from hf_tools import HuggingFaceToolkit
from hf_tools.testing import replay


def main() -> None:
    with replay("text-classification/success.yaml"):
        toolkit = HuggingFaceToolkit(tasks=["text-classification"])
        tool = toolkit.get_tool("text_classification")
        message = tool.invoke(
            {"name": tool.name, "args": {"text": "I like you"}, "id": "1", "type": "tool_call"}
        )
    print("content (what the LLM reads):", message.content)
    print("artifact (typed output):", message.artifact.labels[0])


if __name__ == "__main__":
    main()
