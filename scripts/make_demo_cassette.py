"""Write cassettes/agent/demo.yaml: the chat turns of the offline demo (``hf-tools demo``).

The replies are ``hf_tools.demo.DEMO_REPLIES`` (written from the OpenAI-compatible format:
no recording of a model calling our tools exists). The requests are what HFChatModel sends
for the conversation the agent builds, found by running the agent on a scripted model over
the recorded tool cassettes. Rerun after changing what the agent or HFChatModel sends:

    python scripts/make_demo_cassette.py
"""

from __future__ import annotations

import json
from pathlib import Path

from hf_tools.agent import Agent
from hf_tools.chat import HFChatModel, parse_completion
from hf_tools.demo import DEMO_CASSETTES, DEMO_REPLIES, DEMO_REQUEST, demo_agent
from hf_tools.testing import Interaction, ScriptedChatModel, use_cassette, write_cassette

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "cassettes"


def main() -> None:
    real = demo_agent(ROOT)
    replies = [parse_completion(body).generations[0].message for body in DEMO_REPLIES]
    scripted = ScriptedChatModel(replies=replies)
    agent = Agent(scripted, list(real.tools.values()))
    with use_cassette(*DEMO_CASSETTES[1:], library_dir=LIBRARY):
        agent.invoke(DEMO_REQUEST)
    model = real.model
    assert isinstance(model, HFChatModel)
    interactions = [
        Interaction(
            model.build_request(seen, tools=scripted.tools),
            200,
            json.dumps(body, separators=(",", ":")),
        )
        for seen, body in zip(scripted.seen, DEMO_REPLIES, strict=True)
    ]
    print(write_cassette(LIBRARY / DEMO_CASSETTES[0], interactions))


if __name__ == "__main__":
    main()
