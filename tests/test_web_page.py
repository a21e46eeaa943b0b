"""The web chat page in a real headless Chromium, against a real server on loopback.

Needs Debian's ``chromium`` and ``chromium-driver``; without them the test is skipped (CI sets
``HF_TOOLS_REQUIRE_BROWSER=1``, which makes that a failure). The chat model is scripted and
streams word by word with a pause, as a real one does; its tool is the real text_to_image tool
over the recorded text-to-image cassette, so the page shows a real generated image.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import StructuredTool, ToolException

from hf_tools.langchain.agent import Agent
from hf_tools.serve.app import create_app
from hf_tools.serve.web import CONTENT_SECURITY_POLICY
from hf_tools.testing import DUMMY_TOKEN, ScriptedChatModel, tool_call

from .conftest import ROOT, serve_app, task_toolkit

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "test-output" / "web-page.png"
KEY = "web-page-test-key"
PROMPT = "An astronaut riding a horse on the moon."
COUNT = " ".join(["one", "two", "three", "four", "five", "six", "seven", "eight"] * 3)
ANSWER = "Here is your picture: an astronaut rides a white horse across the grey moon."
# Chromium as root in a container; the rest keeps it off the (closed) network.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1000,1000",
]
# Records what the assistant's reply shows at each DOM change, and in which state: streamed
# tokens must show one by one, the tool step before the answer ends.
OBSERVE = """
window.__seen = [];
new MutationObserver(() => {
  const turn = [...document.querySelectorAll('.turn.assistant')].pop();
  if (!turn) return;
  window.__seen.push({
    state: turn.dataset.state,
    text: [...turn.querySelectorAll('.text')].map((p) => p.textContent).join('|'),
    tool: !!turn.querySelector('.tool'),
  });
}).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});
"""

pytestmark = pytest.mark.allow_hosts(["127.0.0.1", "::1"])  # the server, chromedriver


class _SlowModel(ScriptedChatModel):
    """Streams its words with a pause between them, so each token reaches the page alone."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for chunk in super()._stream(*args, **kwargs):
            time.sleep(0.05)  # in the executor thread LangChain runs sync streams in
            yield chunk


def _browser_missing() -> str | None:
    missing = [
        name
        for name, there in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER.is_file()))
        if not there
    ]
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed: apt-get install -y chromium chromium-driver"


@contextlib.contextmanager
def _chromium(profile: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # A Service with the driver's path: Selenium Manager never looks for one on the network.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """A fresh Chromium profile folder; skips (fails in CI) when there is no Chromium."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("HF_TOOLS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HF_TOOLS_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    return tmp_path / "profile"


def _wait(driver: Any, what: str, check: Callable[[Any], Any], timeout: float = 10) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(check)
    except TimeoutException:
        shown = driver.find_element("id", "log").text
        pytest.fail(f"timed out waiting for {what}; the page shows: {shown!r}")


def _load(driver: Any, url: str) -> None:
    driver.get(url)
    _wait(
        driver, "the page to load", lambda d: d.execute_script("return document.body.dataset.ready")
    )


def _image_width(driver: Any) -> int:
    width = driver.execute_script(
        "const img = document.querySelector('.tool .artifact img');"
        "return img && img.complete ? img.naturalWidth : 0;"
    )
    return int(width)


def _send(browser: Any, text: str) -> Callable[[], Any]:
    """Send ``text`` from the page; returns a wait for the reply once it stopped streaming."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = len(browser.find_elements(By.CSS_SELECTOR, ".turn.assistant"))
    browser.find_element(By.ID, "message").send_keys(text + Keys.ENTER)

    def answered(driver: Any) -> Any:
        turns = driver.find_elements(By.CSS_SELECTOR, ".turn.assistant")
        done = len(turns) > before and turns[-1].get_attribute("data-state") != "streaming"
        return turns[-1] if done else None

    return lambda: _wait(browser, f"the answer to {text!r}", answered)


def _weather(city: str) -> str:
    """The weather in a city."""
    raise ToolException(f"no weather service for {city}")


def _step(step: Any) -> tuple[str, str, str]:
    """A tool step's state, its status label and its arguments as the page shows them."""
    from selenium.webdriver.common.by import By

    status = step.find_element(By.CLASS_NAME, "tool-status").text
    return (
        step.get_attribute("data-state"),
        status,
        step.find_element(By.CLASS_NAME, "tool-args").text,
    )


def _say(browser: Any, text: str) -> Any:
    """Send ``text`` from the page; the assistant's turn once it stopped streaming."""
    return _send(browser, text)()


class _CutOnce:
    """ASGI wrapper: once armed, ends the next turn's stream after a few events, as a proxy
    that times out would (the turn itself goes on in the server)."""

    def __init__(self, app: Any, events: int = 4) -> None:
        self.app = app
        self.events = events
        self.armed = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (self.armed and scope["type"] == "http" and scope["path"].endswith("/messages")):
            await self.app(scope, receive, send)
            return
        self.armed = False
        sent = 0

        async def cutting(message: Any) -> None:
            nonlocal sent
            if sent > self.events:
                return  # cut: the rest goes nowhere
            if message["type"] == "http.response.body":
                sent += 1
                if sent > self.events:
                    message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, cutting)


def test_the_page_serves_itself_without_a_key_under_a_strict_policy() -> None:
    from starlette.testclient import TestClient

    with TestClient(create_app(Agent(ScriptedChatModel(), []), api_keys=[KEY])) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'self' covers scripts
        assert "<script>" not in page.text and 'src="/web/app.js"' in page.text
        script = client.get("/web/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert client.get("/web/style.css").headers["x-content-type-options"] == "nosniff"
        # Only the page's own files are public: the API and other paths still need the key.
        assert client.get("/web/../app.py").status_code == 401
        assert client.get("/web/app.py").status_code == 401
        assert client.post("/sessions", json={}).status_code == 401


def test_a_chat_in_chromium_streams_shows_the_tool_and_image_and_survives_a_reload(
    profile: Path, cassette: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    drawing = [tool_call("text_to_image", prompt=PROMPT), tool_call("weather", city="Paris")]
    model = _SlowModel(replies=[AIMessage("Drawing it now.", tool_calls=drawing), ANSWER, COUNT])
    toolkit = task_toolkit("text-to-image", DUMMY_TOKEN)
    tools = [*toolkit.get_tools(), StructuredTool.from_function(_weather)]
    app = _CutOnce(create_app(Agent(model, tools), api_keys=[KEY]))
    # The cassette patches HTTP clients process-wide: Selenium's calls to chromedriver are
    # loopback and go through for real, over connections all made (and closed) inside it.
    with (
        cassette("text-to-image/success", ignore_localhost=True),
        serve_app(app) as url,
        _chromium(profile) as browser,
    ):
        _load(browser, f"{url}/")
        # Without the key, the server's refusal shows with its message, and the key box opens.
        refused = _say(browser, "hello?")
        assert refused.get_attribute("data-state") == "error"
        alert = refused.find_element(By.CSS_SELECTOR, "[role=alert]")
        assert "Error (missing_api_key): send an API key" in alert.text
        assert browser.find_element(By.ID, "key-box").get_attribute("open") is not None
        browser.find_element(By.ID, "api-key").send_keys(KEY + Keys.ENTER)
        assert browser.find_element(By.ID, "key-summary").text == "API key (saved)"
        browser.find_element(By.ID, "new-chat").click()
        assert browser.find_elements(By.CSS_SELECTOR, "#log > *") == []
        browser.get_log("browser")  # the 401 is in the console: start a clean log

        browser.execute_script(OBSERVE)
        turn = _say(browser, f"Please draw this: {PROMPT}")
        assert turn.get_attribute("data-state") == "done", turn.text
        _wait(browser, "the image", _image_width)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
        with capsys.disabled():  # in the test run's output, passed or not
            print(f"\nweb page screenshot: {SCREENSHOT}")

        # Streamed: the answer grew token by token while the turn was still streaming, after
        # the tool step was already on the page.
        seen = browser.execute_script("return window.__seen")
        streaming = [s for s in seen if s["state"] == "streaming"]
        partial = {s["text"] for s in streaming if s["tool"] and s["text"] != "Drawing it now."}
        assert len(partial) >= 5, seen
        assert all(ANSWER.startswith(t.split("|")[-1]) for t in partial), partial

        step = turn.find_element(By.CSS_SELECTOR, ".tool[data-name=text_to_image]")
        assert f"prompt: {PROMPT}" in step.find_element(By.CLASS_NAME, "tool-args").text
        assert step.get_attribute("data-state") == "done"
        assert (
            "Generated a JPEG image, 512x512"
            in step.find_element(By.CLASS_NAME, "tool-result").text
        )
        assert [p.text for p in turn.find_elements(By.CLASS_NAME, "text")] == [
            "Drawing it now.",
            ANSWER,
        ]
        assert _image_width(browser) == 512

        failed_step = turn.find_element(By.CSS_SELECTOR, ".tool[data-name=weather]")
        assert _step(failed_step) == ("error", "failed", "city: Paris")

        # A reload shows the same conversation, read back from the server: each tool step
        # with its arguments and outcome, the failed one failed.
        browser.refresh()
        _load(browser, browser.current_url)
        turns = browser.find_elements(By.CSS_SELECTOR, "#log > .turn")
        assert [t.get_attribute("class") for t in turns] == ["turn user", "turn assistant"]
        assert turns[0].text.endswith(f"Please draw this: {PROMPT}")
        assert ANSWER in turns[1].text and "text_to_image" in turns[1].text
        drawn = turns[1].find_element(By.CSS_SELECTOR, ".tool[data-name=text_to_image]")
        assert _step(drawn) == ("done", "done", f"prompt: {PROMPT}")
        failed_step = turns[1].find_element(By.CSS_SELECTOR, ".tool[data-name=weather]")
        assert _step(failed_step) == ("error", "failed", "city: Paris")
        _wait(browser, "the image after the reload", _image_width)

        # A stream cut mid-answer resumes after its last event id: nothing lost, nothing twice.
        app.armed = True
        counted = _say(browser, "Count, please.")
        assert counted.get_attribute("data-state") == "done", counted.text
        assert counted.find_element(By.CLASS_NAME, "text").text == COUNT
        resumed = browser.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter((e) => e.name.includes('/events?after=')).length"
        )
        assert resumed >= 1

        # A phone's width: nothing wider than the screen.
        browser.set_window_size(390, 844)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        # No CSP violation nor any other error in the console.
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []

        # A conversation deleted elsewhere: the reload says so, and the next message starts anew.
        session = browser.execute_script("return localStorage.getItem('hf-tools.session')")
        gone = httpx.delete(f"{url}/sessions/{session}", headers={"Authorization": f"Bearer {KEY}"})
        assert gone.status_code == 204
        _load(browser, f"{url}/")
        assert browser.find_elements(By.CSS_SELECTOR, "#log > *") == []
        assert "conversation is gone" in browser.find_element(By.ID, "status").text

        # A turn that fails mid-stream (the model has no reply left) says so in its place,
        # with the server's request id and never the failure's internals.
        failed = _say(browser, "And another one?")
        assert failed.get_attribute("data-state") == "error"
        alert = failed.find_element(By.CSS_SELECTOR, "[role=alert]").text
        assert "Error (agent_failed)" in alert and "request id" in alert
        assert "ran out of replies" not in alert

        # Deleted elsewhere while the page is open: the next message is refused (the id is
        # no longer issued), so the page starts a new conversation and sends it there.
        session = browser.execute_script("return localStorage.getItem('hf-tools.session')")
        gone = httpx.delete(f"{url}/sessions/{session}", headers={"Authorization": f"Bearer {KEY}"})
        assert gone.status_code == 204
        again = _say(browser, "Still there?")
        assert "Error (agent_failed)" in again.find_element(By.CSS_SELECTOR, "[role=alert]").text
        assert "starts a new one" in browser.find_element(By.ID, "status").text
        fresh = browser.execute_script("return localStorage.getItem('hf-tools.session')")
        assert fresh and fresh != session
