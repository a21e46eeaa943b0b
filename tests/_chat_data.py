"""Conversations and tools shared by the chat tests and scripts/make_chat_cassettes.py.

They are the ones of the recordings the cassettes' bodies come from, so the rebuilt requests ask
what the recorded answers answer.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
# An agent turn against one of our own tools (cassette written from the documented format).
AGENT_ASK = [HumanMessage("Is 'I like you' positive or negative? Use a tool.")]
AGENT_CALL_ARGS = {"text": "I like you"}
AGENT_ANSWER = "It is positive: the classifier gives POSITIVE with a score of about 1.0."
DEEP = [SystemMessage("You are a helpful assistant."), HumanMessage("What is deep learning?")]

_LOCATION = {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}
_FORMAT = {
    "type": "string",
    "enum": ["celsius", "fahrenheit"],
    "description": "The temperature unit to use. Infer this from the users location.",
}
_DAYS = {"type": "integer", "description": "The number of days to forecast"}


def _function(name: str, description: str, **properties: Any) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": list(properties)}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


# The two tools of the recorded TGI tool call, in the recorded order.
WEATHER_TOOLS: list[dict[str, Any]] = [
    _function("get_current_weather", "Get the current weather", location=_LOCATION, format=_FORMAT),
    _function(
        "get_n_day_weather_forecast",
        "Get an N-day weather forecast",
        location=_LOCATION,
        format=_FORMAT,
        num_days=_DAYS,
    ),
]
WEATHER = [
    SystemMessage(
        "Don't make assumptions about what values to plug into functions. Ask for "
        "clarification if a user request is ambiguous."
    ),
    HumanMessage("What's the weather like the next 3 days in San Francisco, CA?"),
]
ANIMALS = [
    HumanMessage(
        "I saw a puppy a cat and a raccoon during my bike ride in the park. What did I saw "
        "and when?"
    )
]


class Trip(BaseModel):
    """What the user saw on a ride."""

    location: str
    activity: str
    animals_seen: int = Field(ge=1, le=5)
    animals: list[str]


class get_current_weather(BaseModel):  # the recorded tool's name, so the answer matches
    """Get the current weather."""

    location: str = Field(description="The city and state, e.g. San Francisco, CA")
    format: Literal["celsius", "fahrenheit"] = Field(description="The temperature unit to use.")
