"""Settings a developer can get wrong: each is refused with a message naming the fix."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hf_tools import (
    ConfigurationError,
    HFChatModel,
    HFClient,
    HuggingFaceToolkit,
    RetryPolicy,
    get_spec,
)
from hf_tools.config import Settings, stored_token
from hf_tools.langchain.tools import bound_text


def test_an_explicit_retry_policy_is_honoured_and_max_retries_overrides_it() -> None:
    policy = RetryPolicy(max_retries=5)
    assert HuggingFaceToolkit(api_key="hf_x", retry=policy).client.settings.retry.max_retries == 5
    assert HFChatModel(model="a/b", api_key="hf_x", retry=policy)._settings.retry == policy
    both = HuggingFaceToolkit(api_key="hf_x", retry=policy, max_retries=0)
    assert both.client.settings.retry == RetryPolicy(max_retries=0)
    assert HuggingFaceToolkit(api_key="hf_x").client.settings.retry == RetryPolicy()


def test_misspelled_options_fail_instead_of_being_dropped() -> None:
    with pytest.raises(ValidationError, match="token"):
        HuggingFaceToolkit(token="hf_x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"\['allowed_root'\]; the settings are: .*allowed_roots"):
        HFClient(api_key="hf_x", allowed_root="x")


def test_unknown_chat_options_go_to_the_body_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="no parameter frequency_penalty"):
        llm = HFChatModel(model="a/b", api_key="hf_x", frequency_penalty=0.5)  # type: ignore[call-arg]
    assert llm.model_kwargs == {"frequency_penalty": 0.5}
    assert b'"frequency_penalty":0.5' in llm.build_request([]).content.replace(b" ", b"")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": math.nan}, "timeout must be a positive finite number"),
        ({"timeout": math.inf}, "timeout must be a positive finite number"),
        ({"timeout": 0}, "timeout must be a positive finite number"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"max_content_chars": 10}, "max_content_chars must be an int >= 200"),
        ({"models": {"summarization": "bad model"}}, r"models\['summarization'\] must be"),
    ],
)
def test_numbers_and_names_that_cannot_work_are_refused(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        HFClient(api_key="hf_x", **kwargs)


@pytest.mark.parametrize(
    "field", ["max_retries", "backoff_base", "backoff_cap", "max_total_wait", "max_retry_after"]
)
@pytest.mark.parametrize("value", [-1, math.nan, math.inf])
def test_retry_policy_refuses_unbounded_numbers(field: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=field):
        RetryPolicy(**{field: value})


def test_one_allowed_folder_as_a_string_is_that_folder_not_its_characters(tmp_path: Path) -> None:
    client = HFClient(api_key="hf_x", allowed_roots=str(tmp_path))
    assert client.settings.allowed_roots == (tmp_path.resolve(),)
    assert HFClient(api_key="hf_x", allowed_roots=tmp_path).settings.allowed_roots == (
        tmp_path.resolve(),
    )


def test_a_model_passed_at_call_time_is_checked_like_a_configured_one() -> None:
    client = HFClient(api_key="hf_x")
    with pytest.raises(ConfigurationError, match="model must be a model id"):
        client.model_for(get_spec("summarization"), "bad model")


def test_custom_goes_to_base_url_when_that_is_the_endpoint() -> None:
    url = "https://abc.us-east-1.aws.endpoints.huggingface.cloud"
    toolkit = HuggingFaceToolkit(api_key="hf_x", base_url=url, is_custom_endpoint=True)
    assert "custom" in toolkit.tool_names
    only = HuggingFaceToolkit(
        api_key="hf_x", base_url=url, is_custom_endpoint=True, tasks=["custom"]
    )
    assert only.get_tool("custom").metadata == {"hf_task": "custom", "hf_model": url}
    with pytest.raises(ConfigurationError, match="needs its endpoint URL"):
        HuggingFaceToolkit(api_key="hf_x", tasks=["custom"])


@pytest.mark.parametrize(("size", "limit"), [(4001, 4000), (10**6, 4000), (5000, 200), (500, 10)])
def test_bounded_text_never_exceeds_its_limit_and_counts_what_it_cut(size: int, limit: int) -> None:
    text = bound_text("x" * size, limit)
    assert len(text) <= limit
    if limit >= 200:
        kept = text.index("…")
        assert f"[truncated {size - kept} chars;" in text


def test_no_allowed_folders_means_no_local_files(monkeypatch: pytest.MonkeyPatch) -> None:
    from hf_tools import MediaError
    from hf_tools.media import resolve_media

    from .conftest import ROOT

    monkeypatch.chdir(ROOT)
    image = "tests/fixtures/image.png"
    assert resolve_media(image, HFClient(api_key="hf_x").settings).mime == "image/png"  # cwd
    closed = HFClient(api_key="hf_x", allowed_roots=[]).settings
    assert closed.media_roots() == ()
    with pytest.raises(MediaError, match=f"local files are not accepted here: {image}"):
        resolve_media(image, closed)


def test_token_comes_from_env_then_the_file_hf_auth_login_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.delenv("HF_TOKEN_PATH")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert stored_token() is None
    default = tmp_path / ".cache" / "huggingface" / "token"
    default.parent.mkdir(parents=True)
    default.write_text("hf_default\n")
    assert stored_token() == "hf_default"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert stored_token() is None  # HF_HOME follows XDG_CACHE_HOME, as in huggingface_hub
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "token").write_text("hf_home")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert stored_token() == "hf_home"
    (tmp_path / "elsewhere").write_text("  hf_path  ")
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "elsewhere"))
    assert stored_token() == "hf_path"
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert stored_token() == "hf_env"


def test_a_token_from_the_file_is_sent_only_to_hugging_face(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("hf_file")
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    settings = Settings.create()
    assert settings.key_for("https://router.huggingface.co/hf-inference/models/x") == "hf_file"
    assert settings.key_for("https://my-endpoint.example.com/") is None
