"""Request building and the retry flow, without I/O (pure functions)."""

from __future__ import annotations

import httpx2
import pytest

from hf_tools.config import RetryPolicy, Settings
from hf_tools.errors import (
    APIError,
    ConfigurationError,
    HFConnectionError,
    HFTimeoutError,
    InvalidInputError,
    ModelLoadingError,
    RateLimitError,
    ServerError,
    error_from_response,
    server_message,
)
from hf_tools.http import (
    HFRequest,
    RawResponse,
    build_headers,
    build_request,
    retry_flow,
)
from hf_tools.routing import hf_inference_url

ROUTER = "https://router.huggingface.co/hf-inference"


def settings(**kw: object) -> Settings:
    return Settings.create(api_key="hf_key", **kw)  # type: ignore[arg-type]


def test_url_for_a_model_id() -> None:
    assert hf_inference_url(settings(), "org/model") == f"{ROUTER}/models/org/model"


def test_url_for_the_task_forcing_route() -> None:
    url = hf_inference_url(
        settings(), "sentence-transformers/all-MiniLM-L6-v2", pipeline="feature-extraction"
    )
    assert (
        url == f"{ROUTER}/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction"
    )


def test_endpoint_url_as_model_is_used_as_is() -> None:
    url = "https://x.us-east-1.aws.endpoints.huggingface.cloud/"
    assert hf_inference_url(settings(), url, pipeline="feature-extraction") == url


def test_custom_endpoint_posts_to_base_url_as_is() -> None:
    s = settings(base_url="https://my.endpoints.huggingface.cloud/v1/", is_custom_endpoint=True)
    assert (
        hf_inference_url(s, "ignored/model", pipeline="feature-extraction")
        == "https://my.endpoints.huggingface.cloud/v1"
    )


def test_custom_endpoint_needs_a_base_url() -> None:
    with pytest.raises(ConfigurationError, match="needs base_url"):
        Settings.create(is_custom_endpoint=True)


@pytest.mark.parametrize("bad", ["router.huggingface.co", "ftp://x"])
def test_bad_base_url_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url must start with"):
        Settings.create(base_url=bad)


def test_options_are_sent_only_when_set() -> None:
    plain = build_headers(settings(), ROUTER, content_type="application/json")
    assert plain == {
        "user-agent": "hf-tools/0.1.0",
        "authorization": "Bearer hf_key",
        "content-type": "application/json",
    }
    both = build_headers(settings(use_cache=False, wait_for_model=True), ROUTER, content_type=None)
    assert both["x-use-cache"] == "false"
    assert both["x-wait-for-model"] == "true"


def test_env_token_stays_on_hugging_face_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    s = Settings.create(base_url="http://localhost:8080", is_custom_endpoint=True)
    assert "authorization" not in build_headers(s, "http://localhost:8080", content_type=None)
    hf = Settings.create()
    assert build_headers(hf, ROUTER, content_type=None)["authorization"] == "Bearer hf_from_env"


def test_explicit_key_goes_to_the_configured_endpoint() -> None:
    s = Settings.create(
        api_key="hf_mine", base_url="http://localhost:8080", is_custom_endpoint=True
    )
    assert build_headers(s, s.base_url, content_type=None)["authorization"] == "Bearer hf_mine"


def test_missing_key_for_hugging_face_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="HF_TOKEN"):
        build_headers(Settings.create(), ROUTER, content_type=None)


def test_json_and_binary_bodies() -> None:
    req = build_request(settings(), ROUTER, json={"inputs": "é"}, task="t", model="m")
    assert req.content == '{"inputs":"é"}'.encode()
    assert req.headers["content-type"] == "application/json"
    raw = build_request(settings(), ROUTER, data=b"\x89PNG", content_type="image/png")
    assert raw.content == b"\x89PNG" and raw.headers["content-type"] == "image/png"
    assert "hf_key" not in repr(req)


# --- retry flow -------------------------------------------------------------------------


def _resp(status: int, body: bytes = b"{}", **headers: str) -> RawResponse:
    return RawResponse(status, httpx2.Headers(headers), body)


REQ = HFRequest("https://x/models/m", {"authorization": "Bearer k"}, b"{}", task="t", model="m")
POLICY = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_cap=8.0)


def _drive(outcomes: list[object], policy: RetryPolicy = POLICY) -> tuple[list[object], object]:
    """Feed outcomes to the flow; return what it yielded and its result or raised error."""
    flow = retry_flow(REQ, policy, rand=lambda: 1.0)
    steps: list[object] = [next(flow)]
    feed = iter(outcomes)
    try:
        while True:
            step = steps[-1]
            steps.append(flow.send(next(feed) if isinstance(step, HFRequest) else None))
    except StopIteration as stop:
        return steps, stop.value
    except Exception as exc:  # the flow's final error
        return steps, exc


def test_success_needs_one_request() -> None:
    steps, result = _drive([_resp(200)])
    assert steps == [REQ] and isinstance(result, RawResponse)


def test_loading_waits_estimated_time_then_asks_the_server_to_hold() -> None:
    loading = _resp(503, b'{"error":"Model m is currently loading","estimated_time":12.5}')
    steps, result = _drive([loading, _resp(200)])
    assert steps[1] == 12.5
    retry = steps[2]
    assert isinstance(retry, HFRequest) and retry.headers["x-wait-for-model"] == "true"
    assert isinstance(result, RawResponse)


def test_loading_wait_is_capped() -> None:
    loading = _resp(503, b'{"error":"loading","estimated_time":900}')
    steps, _ = _drive([loading, _resp(200)], RetryPolicy(max_loading_wait=5.0))
    assert steps[1] == 5.0


def test_retry_after_is_honoured_and_backoff_doubles() -> None:
    steps, _ = _drive([_resp(429, **{"retry-after": "3"}), _resp(502), _resp(504), _resp(200)])
    assert [s for s in steps if isinstance(s, float)] == [3.0, 2.0, 4.0]


def test_retry_after_beyond_the_cap_is_not_waited() -> None:
    steps, error = _drive([_resp(429, **{"retry-after": "3600"})])
    assert isinstance(error, RateLimitError) and error.retry_after == 3600.0
    assert steps == [REQ]


def test_retries_are_bounded_in_count() -> None:
    steps, error = _drive([_resp(502)] * 10)
    assert isinstance(error, ServerError)
    assert sum(isinstance(s, HFRequest) for s in steps) == POLICY.max_retries + 1


def test_retries_are_bounded_in_total_time() -> None:
    policy = RetryPolicy(max_retries=10, max_loading_wait=30, max_total_wait=50)
    loading = _resp(503, b'{"error":"loading","estimated_time":20}')
    steps, error = _drive([loading] * 10, policy)
    assert isinstance(error, ModelLoadingError)
    assert sum(s for s in steps if isinstance(s, float)) <= 50  # type: ignore[misc]


def test_negative_server_waits_do_not_refund_the_total_budget() -> None:
    policy = RetryPolicy(max_retries=10, max_loading_wait=30, max_total_wait=50)
    odd = _resp(503, b'{"error":"loading","estimated_time":-100}')
    loading = _resp(503, b'{"error":"loading","estimated_time":20}')
    steps, error = _drive([odd] + [loading] * 10, policy)
    assert isinstance(error, ModelLoadingError)
    assert sum(s for s in steps if isinstance(s, float)) <= 50  # type: ignore[misc]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 500])
def test_other_statuses_are_final(status: int) -> None:
    steps, error = _drive([_resp(status, b'{"error":"no"}')])
    assert steps == [REQ] and isinstance(error, Exception)


def test_connection_errors_are_retried_read_timeouts_are_not() -> None:
    steps, result = _drive([httpx2.ConnectError("refused"), _resp(200)])
    assert isinstance(result, RawResponse) and len(steps) == 3
    steps, error = _drive([httpx2.ReadTimeout("slow")])
    assert isinstance(error, HFTimeoutError) and steps == [REQ]
    _, error = _drive([httpx2.RemoteProtocolError("reset")] * 5)
    assert isinstance(error, HFConnectionError)


# --- error bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error":"Model x does not exist"}', "Model x does not exist"),
        (b'{"error":["a: field required","b: bad"]}', "a: field required; b: bad"),
        (
            b'{"error":"Input validation error: too long","error_type":"validation"}',
            "Input validation error: too long (validation)",
        ),
        (
            b'{"error":"Model m is currently loading","estimated_time":20.0}',
            "Model m is currently loading",
        ),
        (b"Failed to deserialize the JSON body", "Failed to deserialize the JSON body"),
        (b"", "(empty body)"),
    ],
)
def test_server_message_reads_every_recorded_shape(body: bytes, message: str) -> None:
    assert server_message(body) == message


def test_status_map() -> None:
    headers = httpx2.Headers({"x-request-id": "r1"})
    err = error_from_response(422, headers, b'{"error":"bad"}', task="t", model="m")
    assert isinstance(err, InvalidInputError) and err.llm_fixable and err.request_id == "r1"
    assert isinstance(error_from_response(503, headers, b"upstream down"), ServerError)
    assert type(error_from_response(418, headers, b"")) is APIError  # not the LLM's fault


def test_an_httpx_transport_is_refused_with_a_clear_error() -> None:
    # httpx and httpx2 transports look alike; httpx2 would fail later on a bare assertion.
    import httpx

    from hf_tools import AsyncHFClient, HFClient

    with pytest.raises(ConfigurationError, match=r"httpx2\.BaseTransport .* not httpx\.Mock"):
        HFClient(api_key="hf_x", transport=httpx.MockTransport(lambda _: httpx.Response(200)))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"httpx2\.AsyncBaseTransport"):
        AsyncHFClient(api_key="hf_x", transport=httpx.MockTransport(lambda _: httpx.Response(200)))  # type: ignore[arg-type]
    ok = httpx2.MockTransport(lambda _: httpx2.Response(200, json=[{"label": "A", "score": 1}]))
    client = HFClient(api_key="hf_x", transport=ok)
    assert client.run("text-classification", text="hi").labels[0].label == "A"


def test_the_transport_snippet_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import ROOT

    testing_page = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    section = testing_page[testing_page.index("Without cassettes, give a client") :]
    code = section[section.index("```python") + 9 : section.index("```\n", 10)]
    exec(compile(code, "docs/testing.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "POSITIVE"


def test_every_client_shares_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    # Building a TLS context reads the CA store (15-30 ms): once per process, not per client.
    from hf_tools import HFChatModel, HuggingFaceToolkit
    from hf_tools.http import ssl_context

    built: list[int] = []
    real = httpx2.create_ssl_context
    monkeypatch.setattr(httpx2, "create_ssl_context", lambda: built.append(1) or real())
    ssl_context.cache_clear()
    try:
        for _ in range(3):
            HuggingFaceToolkit(api_key="hf_x").close()
        HFChatModel(model="m", api_key="hf_x").http.close()
        assert ssl_context() is ssl_context()
    finally:
        ssl_context.cache_clear()
    assert built == [1]


@pytest.mark.allow_hosts(["127.0.0.1"])
async def test_the_pool_keeps_its_connections_when_many_calls_are_in_flight() -> None:
    # httpx2 keeps 20 idle connections by default: 40 calls at once would then close 20 and
    # open them again for the next 40 (a TLS handshake each on a real host).
    import asyncio

    from hf_tools import AsyncHFClient

    opened = 0
    body = b'[[{"label": "POSITIVE", "score": 0.9}]]'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                size = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(size)
                await asyncio.sleep(0.01)  # all 40 are in flight together
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/predict"
    client = AsyncHFClient(api_key="hf_x", base_url=url, is_custom_endpoint=True)
    try:
        for _ in range(3):
            calls = (client.run("text-classification", text="hi") for _ in range(40))
            await asyncio.wait_for(asyncio.gather(*calls), timeout=30)
        assert opened == 40  # the first 40 calls opened them; the next 80 reused them
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
