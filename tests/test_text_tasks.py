"""Text tasks: exact wire payloads, every response shape parsed, the text an LLM reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from hf_tools import HFClient, HuggingFaceToolkit, InputError, ResponseFormatError, get_spec
from hf_tools.testing import DUMMY_TOKEN

ROUTER = "https://router.huggingface.co/hf-inference/models"


def wire(task: str, **args: Any) -> tuple[str, Any]:
    """(URL, JSON body) our client sends for these arguments."""
    client = HFClient(api_key="hf_x", provider="hf-inference")
    spec = get_spec(task)
    request = client.prepare(spec, client.validate(spec, args), {}, client.model_for(spec))
    return request.url, json.loads(request.content)


def parse(task: str, data: Any, **args: Any) -> Any:
    spec = get_spec(task)
    return spec.hf_inference.parse(data, spec.input_model.model_validate(args))


def content(task: str, data: Any, **args: Any) -> str:
    return str(get_spec(task).render(parse(task, data, **args)))


def call(toolkit: HuggingFaceToolkit, task: str, **args: Any) -> ToolMessage:
    tool = toolkit.get_tool(task)
    msg = tool.invoke({"name": tool.name, "args": args, "id": "1", "type": "tool_call"})
    assert isinstance(msg, ToolMessage)
    return msg


# --- text-classification ------------------------------------------------------------


def test_text_classification_pair_and_parameters() -> None:
    url, body = wire("text-classification", text="A", text_pair="B", top_k=1)
    assert url == f"{ROUTER}/distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    assert body == {"inputs": {"text": "A", "text_pair": "B"}, "parameters": {"top_k": 1}}


@pytest.mark.parametrize(
    "data",
    [
        [[{"label": "NEG", "score": 0.1}, {"label": "POS", "score": 0.9}]],
        [{"label": "NEG", "score": 0.1}, {"label": "POS", "score": 0.9}],
        {"labels": ["NEG", "POS"], "scores": [0.1, 0.9]},
    ],
)
def test_text_classification_shapes(data: Any) -> None:
    assert content("text-classification", data, text="x") == "POS 0.9000, NEG 0.1000"


def test_garbage_is_a_response_format_error() -> None:
    with pytest.raises(ResponseFormatError, match="label"):
        parse("text-classification", [{"nope": 1}], text="x")
    with pytest.raises(ResponseFormatError):
        parse("text-classification", "oops", text="x")


# --- zero-shot ----------------------------------------------------------------------


def test_zero_shot_wire_and_legacy_shape() -> None:
    _, body = wire(
        "zero-shot-classification", text="t", candidate_labels=["a", "b"], multi_label=True
    )
    assert body == {
        "inputs": "t",
        "parameters": {"candidate_labels": ["a", "b"], "multi_label": True},
    }
    legacy = {"sequence": "t", "labels": ["b", "a"], "scores": [0.7, 0.3], "warnings": ["w"]}
    out = parse("zero-shot-classification", legacy, text="t", candidate_labels=["a", "b"])
    assert out.sequence == "t" and [lab.label for lab in out.labels] == ["b", "a"]
    assert out.model_extra == {"warnings": ["w"]}  # unknown fields are kept
    as_list = parse("zero-shot-classification", [legacy], text="t", candidate_labels=["a", "b"])
    assert as_list.labels == out.labels
    flat = [{"label": "a", "score": 0.3}, {"label": "b", "score": 0.7}]
    assert (
        parse("zero-shot-classification", flat, text="t", candidate_labels=["a", "b"]).labels
        == out.labels
    )


def test_zero_shot_multi_label_scores_each_label_alone(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    text = (
        "A new model offers an explanation for how the Galilean satellites formed around the"
        " solar system'slargest world. Konstantin Batygin did not set out to solve one of the"
        " solar system's most puzzling mysteries when he went for a run up a hill in Nice, France."
    )
    labels = ["scientific discovery", "space & cosmos", "microbiology", "archeology", "robots"]
    with cassette("zero-shot-classification/multi-label"):
        msg = call(
            toolkit,
            "zero_shot_classification",
            text=text,
            candidate_labels=labels,
            multi_label=True,
        )
    scores = [label.score for label in msg.artifact.labels]
    assert [label.label for label in msg.artifact.labels][:2] == labels[:2]
    assert sum(scores) > 1.7  # independent scores, not a distribution


def test_zero_shot_without_labels_tells_the_llm(
    toolkit: HuggingFaceToolkit, sent: list[Any]
) -> None:
    msg = call(toolkit, "zero_shot_classification", text="t", candidate_labels=[])
    assert msg.status == "error"
    assert "candidate_labels: List should have at least 1 item" in str(msg.content)
    assert sent == []


# --- token-classification --------------------------------------------------------------


def test_token_classification_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("token-classification/success"):
        msg = call(toolkit, "token_classification", **get_spec("token-classification").example)
    assert msg.content == (
        "PER: Sarah Jessica Parker (0.9991) [11-31]\nPER: Jessica (0.9980) [52-59]"
    )


def test_token_classification_unaggregated_shape() -> None:
    data = [{"entity": "B-PER", "score": 0.99, "word": "Sarah", "index": 4, "start": 11, "end": 16}]
    out = parse("token-classification", data, text="x")
    assert out.entities[0].entity_group == "B-PER"
    assert out.entities[0].model_extra == {"entity": "B-PER", "index": 4}
    assert content("token-classification", [], text="x") == "no entities found"


# --- question answering / table QA / fill-mask ----------------------------------------


def test_question_answering_wire_and_shapes() -> None:
    _, body = wire("question-answering", question="q", context="c")
    assert body == {"inputs": {"question": "q", "context": "c"}, "parameters": {}}
    one = {"score": 0.5, "start": 0, "end": 2, "answer": "42"}
    assert (
        content("question-answering", one, question="q", context="c")
        == "42 (score 0.5000, chars 0-2)"
    )
    many = [{"answer": "a", "score": 0.1, "start": 0, "end": 1}, {**one, "answer": "b"}]
    out = parse("question-answering", many, question="q", context="c")
    assert [a.answer for a in out.answers] == ["b", "a"]
    # Answers with no span of the context are visual question answering's, not these.
    with pytest.raises(ResponseFormatError, match=r"missing \['start', 'end'\]"):
        parse("question-answering", [{"answer": "a", "score": 0.1}], question="q", context="c")


def test_table_question_answering(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("table-question-answering/success"):
        msg = call(
            toolkit, "table_question_answering", **get_spec("table-question-answering").example
        )
    assert msg.content == "AVERAGE > 36542 (cells: 36542; aggregator AVERAGE)"
    bad = call(toolkit, "table_question_answering", question="q", table={"a": ["1"], "b": []})
    assert bad.status == "error"
    assert "same number of cells" in str(bad.content)
    twice = [{"column": "a", "cells": []}, {"column": "a", "cells": []}]
    bad = call(toolkit, "table_question_answering", question="q", table=twice)
    assert bad.status == "error" and "unique" in str(bad.content)
    # Numbers an LLM writes as numbers are sent as the text cells the server reads; named
    # columns (the schema) and a {column: cells} map (Python) are the same wire table.
    columns = [{"column": "Stars", "cells": [36542, 4.5]}]
    for table in (columns, {"Stars": [36542, 4.5]}):
        _, body = wire("table-question-answering", question="q", table=table)
        assert body["inputs"] == {"query": "q", "table": {"Stars": ["36542", "4.5"]}}


def test_fill_mask_needs_the_mask_token(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    msg = call(toolkit, "fill_mask", text="The goal of life is happiness.")
    assert msg.status == "error" and "<mask>" in str(msg.content)
    two = call(toolkit, "fill_mask", text="A <mask> and a [MASK].")
    assert "the text has 2 mask tokens; use exactly one per call" in str(two.content)
    with cassette("fill-mask/success"):
        ok = call(toolkit, "fill_mask", text="The goal of life is <mask>.")
    first = str(ok.content).splitlines()[0]
    assert first == "happiness 0.0690: The goal of life is happiness."


# --- generation -------------------------------------------------------------------------


def test_summarization_wire_and_shapes() -> None:
    _, body = wire("summarization", text="long", max_length=50)
    # The spec's length limits are generation parameters: inside generate_parameters.
    assert body == {"inputs": "long", "parameters": {"generate_parameters": {"max_length": 50}}}
    assert content("summarization", [{"summary_text": " short "}], text="x") == "short"
    assert content("summarization", {"summary_text": "short"}, text="x") == "short"
    with pytest.raises(ResponseFormatError, match="summary_text"):
        parse("summarization", [{"generated_text": "x"}], text="x")


def test_translation_languages(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    _, body = wire("translation", text="Hello", src_lang="en_XX", tgt_lang="fr_XX")
    assert body == {"inputs": "Hello", "parameters": {"src_lang": "en_XX", "tgt_lang": "fr_XX"}}
    with cassette("translation/success"):
        assert call(toolkit, "translation", text="Hello world").content == "Hallo Welt"
    mbart = HuggingFaceToolkit(
        api_key=DUMMY_TOKEN,
        tasks=["translation"],
        models={"translation": "facebook/mbart-large-50-many-to-many-mmt"},
    )
    with cassette("translation/source-and-target"):
        msg = call(mbart, "translation", text="Hello world", src_lang="en_XX", tgt_lang="fr_XX")
    assert msg.content == "Hello world"  # what the recorded model answered


def test_text_generation_parameters_and_details(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    _, body = wire("text-generation", prompt="p", max_new_tokens=5, stop=["\n"], seed=1)
    assert body == {"inputs": "p", "parameters": {"max_new_tokens": 5, "stop": ["\n"], "seed": 1}}
    with cassette("text-generation/with-details"):
        msg = call(
            toolkit,
            "text_generation",
            prompt="test",
            max_new_tokens=1,
            do_sample=False,
            details=True,
        )
    assert msg.content == "(empty generation) [stopped: max_new_tokens reached]"
    assert msg.artifact.details["generated_tokens"] == 1


def test_text_generation_422_goes_back_to_the_llm(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    with cassette("text-generation/validation-error"):
        msg = call(toolkit, "text_generation", prompt="test", max_new_tokens=10000, do_sample=False)
    assert msg.status == "error"
    assert str(msg.content).startswith(
        "HTTP 422: Input validation error: `inputs` tokens + `max_new_tokens` must be <= 1512."
    )
    assert "(validation)" in str(msg.content) and "Change the arguments" in str(msg.content)


def test_text2text_generation(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("text2text-generation/success"):
        assert call(toolkit, "text2text_generation", text="one plus two equals").content == "three"


# --- embeddings, similarity, ranking -----------------------------------------------------


def test_feature_extraction_route_and_root_options() -> None:
    url, body = wire("feature-extraction", texts=["a", "b"], normalize=True)
    model = "sentence-transformers/paraphrase-xlm-r-multilingual-v1"
    assert url == f"{ROUTER}/{model}/pipeline/feature-extraction"
    assert body == {"inputs": ["a", "b"], "normalize": True}


@pytest.mark.parametrize(
    ("data", "texts", "pooled", "shape"),
    [
        ([0.1, 0.2, 0.3], "a", True, [3]),
        ([[0.1, 0.2, 0.3]], "a", True, [3]),
        ([[0.1, 0.2], [0.3, 0.4]], ["a", "b"], True, [2]),
        ([[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]], "a", False, [3, 2]),
        ([[[[0.1, 0.2]]], [[[0.3, 0.4]]]], ["a", "b"], False, [1, 2]),
    ],
)
def test_feature_extraction_shapes(data: Any, texts: Any, pooled: bool, shape: list[int]) -> None:
    out = parse("feature-extraction", data, texts=texts)
    assert out.pooled is pooled and out.shape == shape
    assert len(out.vectors) == (1 if isinstance(texts, str) else len(texts))


def test_feature_extraction_count_mismatch() -> None:
    with pytest.raises(ResponseFormatError, match="expected 3 embedding"):
        parse("feature-extraction", [[0.1], [0.2]], texts=["a", "b", "c"])


def test_embedding_content_never_dumps_vectors(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("feature-extraction/success"):
        msg = call(toolkit, "feature_extraction", texts="That is a happy person")
    assert msg.content == (
        "1 vector(s), dim 768; first: [0.2482, 0.4879, -0.2243, ...] (vectors in the artifact)"
    )
    assert len(msg.artifact.vectors[0]) == 768


def test_token_level_batch(token: str, cassette: Any) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, models={"feature-extraction": "facebook/bart-base"})
    with cassette("feature-extraction/token-level-batch"):
        msg = call(toolkit, "feature_extraction", texts=["hello", "That is a happy person"])
    assert str(msg.content).startswith("2 token-level embedding(s)")


def test_sentence_embeddings_refuse_token_level() -> None:
    with pytest.raises(ResponseFormatError, match="sentence-transformers"):
        parse("sentence-embeddings", [[[0.1, 0.2], [0.3, 0.4]]], texts="a")
    assert parse("sentence-embeddings", [[0.1, 0.2], [0.3, 0.4]], texts=["a", "b"]).dim == 2


def test_sentence_similarity(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    url, body = wire("sentence-similarity", source_sentence="s", sentences=["a"])
    assert url.endswith("/all-MiniLM-L6-v2/pipeline/sentence-similarity")
    assert body == {"inputs": {"source_sentence": "s", "sentences": ["a"]}, "parameters": {}}
    wrapped = parse(
        "sentence-similarity", {"similarities": [0.5]}, source_sentence="s", sentences=["a"]
    )
    assert wrapped.scores[0].score == 0.5
    with cassette("sentence-similarity/success"):
        msg = call(toolkit, "sentence_similarity", **get_spec("sentence-similarity").example)
    assert str(msg.content).splitlines()[0] == "0.7786  Deep learning is so straightforward."


def test_ranking_wire_and_shapes() -> None:
    _, body = wire("ranking", query="q", documents=["d1", "d2"])
    assert body == {"inputs": [{"text": "q", "text_pair": "d1"}, {"text": "q", "text_pair": "d2"}]}
    args: dict[str, Any] = {"query": "q", "documents": ["d1", "d2"]}
    for data in (
        [{"label": "LABEL_0", "score": 0.1}, {"label": "LABEL_0", "score": 0.9}],
        [[{"label": "LABEL_0", "score": 0.1}], [{"label": "LABEL_0", "score": 0.9}]],
        {"scores": [0.1, 0.9]},
        [{"index": 1, "score": 0.9}, {"index": 0, "score": 0.1}],
        [[-2.3], [4.1]],  # one logit per pair
        # Two classes: the relevant one's score counts, not the most confident label's.
        [
            [{"label": "LABEL_0", "score": 0.99}, {"label": "LABEL_1", "score": 0.01}],
            [{"label": "LABEL_1", "score": 0.7}, {"label": "LABEL_0", "score": 0.3}],
        ],
        [
            [{"label": "not_relevant", "score": 0.9}, {"label": "relevant", "score": 0.1}],
            [{"label": "relevant", "score": 0.8}, {"label": "not_relevant", "score": 0.2}],
        ],
    ):
        out = parse("ranking", data, **args)
        assert [(r.index, r.text) for r in out.ranked] == [(1, "d2"), (0, "d1")]
    assert len(parse("ranking", {"scores": [0.1, 0.9]}, top_k=1, **args).ranked) == 1
    with pytest.raises(ResponseFormatError, match="expected 2 scores"):
        parse("ranking", {"scores": [0.1]}, **args)


def test_wrong_typed_extra_fields_are_a_response_format_error() -> None:
    with pytest.raises(ResponseFormatError, match="unexpected generation format"):
        parse(
            "text-generation", [{"generated_text": "x", "details": ["not", "a dict"]}], prompt="p"
        )


# ---------------------------------------------------------------------------- conversational


def test_conversational_routes_and_body() -> None:
    spec = get_spec("conversational")
    args = {"message": "hi", "history": [{"role": "assistant", "content": "hello"}]}

    def sent(model: str | None = None, **kw: Any) -> tuple[str, dict[str, Any]]:
        client = HFClient(api_key="hf_x", **kw)
        request = client.prepare(
            spec, client.validate(spec, args), {}, client.model_for(spec, model)
        )
        return request.url, json.loads(request.content)

    url, body = sent()
    assert url == "https://router.huggingface.co/v1/chat/completions"
    assert list(body) == ["model", "messages"] and body["model"] == spec.default_model
    assert body["messages"][-1] == {"role": "user", "content": "hi"}
    url, body = sent("https://e.endpoints.huggingface.cloud/")
    assert (url, body["model"]) == (
        "https://e.endpoints.huggingface.cloud/v1/chat/completions",
        "tgi",
    )
    url, _ = sent(base_url="https://router.huggingface.co/together")
    assert url == "https://router.huggingface.co/together/v1/chat/completions"
    url, _ = sent(base_url="http://127.0.0.1:8080", is_custom_endpoint=True)
    assert url == "http://127.0.0.1:8080/v1/chat/completions"


def test_conversational_refuses_bad_history() -> None:
    with pytest.raises(InputError, match="role"):
        HFClient(api_key="hf_x").run("conversational", message="hi", history=[{"who": "me"}])


def test_conversational_endpoint_with_history(cassette: Any) -> None:
    tk = HuggingFaceToolkit(
        api_key=DUMMY_TOKEN, models={"conversational": "https://tgi.endpoints.huggingface.cloud"}
    )
    history = [{"role": "system", "content": "You are a helpful assistant."}]
    call = {
        "name": "conversational",
        "args": {"message": "What is deep learning?", "history": history},
        "id": "1",
        "type": "tool_call",
    }
    with cassette("conversational/endpoint-with-history"):
        msg = tk.get_tool("conversational").invoke(call)
    assert msg.status == "success"
    assert str(msg.content).endswith("[stopped: length limit reached]")
    assert msg.artifact.usage == {"input_tokens": 47, "output_tokens": 20, "total_tokens": 67}
    assert msg.artifact.model == "HuggingFaceH4/zephyr-7b-beta"
