"""Give an agent the toolkit: the chat model picks the tool, the agent runs it.

Live:    HF_TOKEN=hf_... python examples/toolkit_agent.py
Offline: HF_TOOLS_REPLAY=1 python examples/toolkit_agent.py
"""

from __future__ import annotations

from hf_tools import Agent, HFChatModel, HuggingFaceToolkit
from hf_tools.testing import replay

TASKS = ["text-classification", "summarization", "translation"]
REQUEST = "Is this review positive or negative? 'I like you'"


def main() -> None:
    with replay("agent/example.yaml", "text-classification/success.yaml"):
        model = HFChatModel(model="Qwen/Qwen2.5-72B-Instruct")
        agent = Agent(model, HuggingFaceToolkit(tasks=TASKS).get_tools(), max_steps=4)
        result = agent.invoke(REQUEST)
    for name, artifact in result.artifacts:
        print(f"{name} -> {artifact.labels[0].label}")
    print(f"answer after {result.steps} steps: {result.answer}")


if __name__ == "__main__":
    main()
