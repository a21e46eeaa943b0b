"""Each task's wire parameters, generated from the task specs: DO NOT EDIT.

Written by scripts/generate_parameters.py from scripts/task-specs/ (the JSON schemas
huggingface_hub generates its types from); tests/test_spec_parameters.py fails when it is stale.
``<Task>Parameters`` is what goes on the wire; ``<Task>PythonOnly`` holds the spec parameters the
hand-written ``<Task>Input`` does not declare, hidden from the schema an LLM reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

__all__ = [
    "AudioClassificationParameters",
    "AudioClassificationPythonOnly",
    "AutomaticSpeechRecognitionParameters",
    "AutomaticSpeechRecognitionPythonOnly",
    "DocumentQuestionAnsweringParameters",
    "DocumentQuestionAnsweringPythonOnly",
    "FeatureExtractionParameters",
    "FeatureExtractionPythonOnly",
    "FillMaskParameters",
    "FillMaskPythonOnly",
    "GenerationParameters",
    "ImageClassificationParameters",
    "ImageClassificationPythonOnly",
    "ImageSegmentationParameters",
    "ImageSegmentationPythonOnly",
    "ImageToImageParameters",
    "ImageToImagePythonOnly",
    "ImageToImageTargetSize",
    "ImageToTextParameters",
    "ImageToTextPythonOnly",
    "ObjectDetectionParameters",
    "ObjectDetectionPythonOnly",
    "QuestionAnsweringParameters",
    "QuestionAnsweringPythonOnly",
    "SummarizationParameters",
    "SummarizationPythonOnly",
    "TableQuestionAnsweringParameters",
    "TableQuestionAnsweringPythonOnly",
    "TextClassificationParameters",
    "TextClassificationPythonOnly",
    "TextToImageParameters",
    "TextToImagePythonOnly",
    "TokenClassificationParameters",
    "TokenClassificationPythonOnly",
    "TranslationParameters",
    "TranslationPythonOnly",
    "VisualQuestionAnsweringParameters",
    "VisualQuestionAnsweringPythonOnly",
    "ZeroShotClassificationParameters",
    "ZeroShotClassificationPythonOnly",
    "ZeroShotImageClassificationParameters",
    "ZeroShotImageClassificationPythonOnly",
]


class AudioClassificationParameters(BaseModel):
    """Wire parameters of audio-classification, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    function_to_apply: Literal["sigmoid", "softmax", "none"] | None = Field(
        default=None,
        description=("The function to apply to the model outputs in order to retrieve the scores."),
    )
    top_k: int | None = Field(
        default=None,
        description=("When specified, limits the output to the top K most probable classes."),
    )


class AudioClassificationPythonOnly(BaseModel):
    """AudioClassificationInput's other spec parameters: Python callers only.

    What each means: :class:`AudioClassificationParameters`.
    """

    function_to_apply: SkipJsonSchema[Literal["sigmoid", "softmax", "none"] | None] = None


class GenerationParameters(BaseModel):
    """Parametrization of the text generation process."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(
        default=None, description="The value used to modulate the next token probabilities."
    )
    top_k: int | None = Field(
        default=None,
        description=(
            "The number of highest probability vocabulary tokens to keep for top-k-filtering."
        ),
    )
    top_p: float | None = Field(
        default=None,
        description=(
            "If set to float < 1, only the smallest set of most probable tokens with "
            "probabilities that add up to top_p or higher are kept for generation."
        ),
    )
    typical_p: float | None = Field(
        default=None,
        description=(
            "Local typicality measures how similar the conditional probability of predicting "
            "a target token next is to the expected conditional probability of predicting a "
            "random token next, given the partial text already generated. If set to float < "
            "1, the smallest set of the most locally typical tokens with probabilities that "
            "add up to typical_p or higher are kept for generation. See [this "
            "paper](https://hf.co/papers/2202.00666) for more details."
        ),
    )
    epsilon_cutoff: float | None = Field(
        default=None,
        description=(
            "If set to float strictly between 0 and 1, only tokens with a conditional "
            "probability greater than epsilon_cutoff will be sampled. In the paper, suggested"
            " values range from 3e-4 to 9e-4, depending on the size of the model. See "
            "[Truncation Sampling as Language Model "
            "Desmoothing](https://hf.co/papers/2210.15191) for more details."
        ),
    )
    eta_cutoff: float | None = Field(
        default=None,
        description=(
            "Eta sampling is a hybrid of locally typical sampling and epsilon sampling. If "
            "set to float strictly between 0 and 1, a token is only considered if it is "
            "greater than either eta_cutoff or sqrt(eta_cutoff) * "
            "exp(-entropy(softmax(next_token_logits))). The latter term is intuitively the "
            "expected next token probability, scaled by sqrt(eta_cutoff). In the paper, "
            "suggested values range from 3e-4 to 2e-3, depending on the size of the model. "
            "See [Truncation Sampling as Language Model "
            "Desmoothing](https://hf.co/papers/2210.15191) for more details."
        ),
    )
    max_length: int | None = Field(
        default=None,
        description=("The maximum length (in tokens) of the generated text, including the input."),
    )
    max_new_tokens: int | None = Field(
        default=None,
        description=("The maximum number of tokens to generate. Takes precedence over max_length."),
    )
    min_length: int | None = Field(
        default=None,
        description=("The minimum length (in tokens) of the generated text, including the input."),
    )
    min_new_tokens: int | None = Field(
        default=None,
        description=("The minimum number of tokens to generate. Takes precedence over min_length."),
    )
    do_sample: bool | None = Field(
        default=None,
        description=(
            "Whether to use sampling instead of greedy decoding when generating new tokens."
        ),
    )
    early_stopping: Literal["never", True, False] | None = Field(
        default=None, description="Controls the stopping condition for beam-based methods."
    )
    num_beams: int | None = Field(
        default=None, description="Number of beams to use for beam search."
    )
    num_beam_groups: int | None = Field(
        default=None,
        description=(
            "Number of groups to divide num_beams into in order to ensure diversity among "
            "different groups of beams. See [this paper](https://hf.co/papers/1610.02424) for"
            " more details."
        ),
    )
    penalty_alpha: float | None = Field(
        default=None,
        description=(
            "The value balances the model confidence and the degeneration penalty in "
            "contrastive search decoding."
        ),
    )
    use_cache: bool | None = Field(
        default=None,
        description=(
            "Whether the model should use the past last key/values attentions to speed up decoding"
        ),
    )


class AutomaticSpeechRecognitionParameters(BaseModel):
    """Wire parameters of automatic-speech-recognition, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    return_timestamps: bool | None = Field(
        default=None,
        description=("Whether to output corresponding timestamps with the generated text"),
    )
    generation_parameters: GenerationParameters | None = Field(
        default=None, description="Parametrization of the text generation process"
    )


class AutomaticSpeechRecognitionPythonOnly(BaseModel):
    """AutomaticSpeechRecognitionInput's other spec parameters: Python callers only.

    What each means: :class:`AutomaticSpeechRecognitionParameters`.
    """

    generation_parameters: SkipJsonSchema[GenerationParameters | None] = None


class DocumentQuestionAnsweringParameters(BaseModel):
    """Wire parameters of document-question-answering, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    doc_stride: int | None = Field(
        default=None,
        description=(
            "If the words in the document are too long to fit with the question for the "
            "model, it will be split in several chunks with some overlap. This argument "
            "controls the size of that overlap."
        ),
    )
    handle_impossible_answer: bool | None = Field(
        default=None, description="Whether to accept impossible as an answer"
    )
    lang: str | None = Field(
        default=None, description="Language to use while running OCR. Defaults to english."
    )
    max_answer_len: int | None = Field(
        default=None,
        description=(
            "The maximum length of predicted answers (e.g., only answers with a shorter "
            "length are considered)."
        ),
    )
    max_seq_len: int | None = Field(
        default=None,
        description=(
            "The maximum length of the total sentence (context + question) in tokens of each "
            "chunk passed to the model. The context will be split in several chunks (using "
            "doc_stride as overlap) if needed."
        ),
    )
    max_question_len: int | None = Field(
        default=None,
        description=(
            "The maximum length of the question after tokenization. It will be truncated if needed."
        ),
    )
    top_k: int | None = Field(
        default=None,
        description=(
            "The number of answers to return (will be chosen by order of likelihood). Can "
            "return less than top_k answers if there are not enough options available within "
            "the context."
        ),
    )
    word_boxes: list[str | list[float]] | None = Field(
        default=None,
        description=(
            "A list of words and bounding boxes (normalized 0->1000). If provided, the "
            "inference will skip the OCR step and use the provided bounding boxes instead."
        ),
    )


class DocumentQuestionAnsweringPythonOnly(BaseModel):
    """DocumentQuestionAnsweringInput's other spec parameters: Python callers only.

    What each means: :class:`DocumentQuestionAnsweringParameters`.
    """

    doc_stride: SkipJsonSchema[int | None] = None
    max_seq_len: SkipJsonSchema[int | None] = None
    max_question_len: SkipJsonSchema[int | None] = None
    word_boxes: SkipJsonSchema[list[str | list[float]] | None] = None


class FeatureExtractionParameters(BaseModel):
    """Wire parameters of feature-extraction, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    normalize: bool | None = None
    prompt_name: str | None = Field(
        default=None,
        description=(
            "The name of the prompt that should be used by for encoding. If not set, no "
            "prompt will be applied. Must be a key in the `sentence-transformers` "
            'configuration `prompts` dictionary. For example if `prompt_name` is "query" and '
            'the `prompts` is {"query": "query: ", ...}, then the sentence "What is the '
            'capital of France?" will be encoded as "query: What is the capital of France?" '
            "because the prompt text will be prepended before any text to encode."
        ),
    )
    truncate: bool | None = None
    truncation_direction: Literal["left", "right"] | None = None


class FeatureExtractionPythonOnly(BaseModel):
    """FeatureExtractionInput's other spec parameters: Python callers only.

    What each means: :class:`FeatureExtractionParameters`.
    """

    prompt_name: SkipJsonSchema[str | None] = None
    truncation_direction: SkipJsonSchema[Literal["left", "right"] | None] = None


class FillMaskParameters(BaseModel):
    """Wire parameters of fill-mask, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    top_k: int | None = Field(
        default=None, description="When passed, overrides the number of predictions to return."
    )
    targets: list[str] | None = Field(
        default=None,
        description=(
            "When passed, the model will limit the scores to the passed targets instead of "
            "looking up in the whole vocabulary. If the provided targets are not in the model"
            " vocab, they will be tokenized and the first resulting token will be used (with "
            "a warning, and that might be slower)."
        ),
    )


class FillMaskPythonOnly(BaseModel):
    """FillMaskInput's other spec parameters: Python callers only.

    What each means: :class:`FillMaskParameters`.
    """


class ImageClassificationParameters(BaseModel):
    """Wire parameters of image-classification, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    function_to_apply: Literal["sigmoid", "softmax", "none"] | None = Field(
        default=None,
        description=("The function to apply to the model outputs in order to retrieve the scores."),
    )
    top_k: int | None = Field(
        default=None,
        description=("When specified, limits the output to the top K most probable classes."),
    )


class ImageClassificationPythonOnly(BaseModel):
    """ImageClassificationInput's other spec parameters: Python callers only.

    What each means: :class:`ImageClassificationParameters`.
    """

    function_to_apply: SkipJsonSchema[Literal["sigmoid", "softmax", "none"] | None] = None


class ImageSegmentationParameters(BaseModel):
    """Wire parameters of image-segmentation, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    mask_threshold: float | None = Field(
        default=None,
        description=("Threshold to use when turning the predicted masks into binary values."),
    )
    overlap_mask_area_threshold: float | None = Field(
        default=None,
        description=("Mask overlap threshold to eliminate small, disconnected segments."),
    )
    subtask: Literal["instance", "panoptic", "semantic"] | None = Field(
        default=None,
        description=("Segmentation task to be performed, depending on model capabilities."),
    )
    threshold: float | None = Field(
        default=None, description="Probability threshold to filter out predicted masks."
    )


class ImageSegmentationPythonOnly(BaseModel):
    """ImageSegmentationInput's other spec parameters: Python callers only.

    What each means: :class:`ImageSegmentationParameters`.
    """

    mask_threshold: SkipJsonSchema[float | None] = None
    overlap_mask_area_threshold: SkipJsonSchema[float | None] = None


class ImageToImageTargetSize(BaseModel):
    """The size in pixels of the output image."""

    model_config = ConfigDict(extra="forbid")

    width: int
    height: int


class ImageToImageParameters(BaseModel):
    """Wire parameters of image-to-image, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(
        default=None, description="The text prompt to guide the image generation."
    )
    guidance_scale: float | None = Field(
        default=None,
        description=(
            "For diffusion models. A higher guidance scale value encourages the model to "
            "generate images closely linked to the text prompt at the expense of lower image "
            "quality."
        ),
    )
    negative_prompt: str | None = Field(
        default=None, description="One prompt to guide what NOT to include in image generation."
    )
    num_inference_steps: int | None = Field(
        default=None,
        description=(
            "For diffusion models. The number of denoising steps. More denoising steps "
            "usually lead to a higher quality image at the expense of slower inference."
        ),
    )
    target_size: ImageToImageTargetSize | None = Field(
        default=None,
        description=(
            "The size in pixels of the output image. This parameter is only supported by some"
            " providers and for specific models. It will be ignored when unsupported."
        ),
    )


class ImageToImagePythonOnly(BaseModel):
    """ImageToImageInput's other spec parameters: Python callers only.

    What each means: :class:`ImageToImageParameters`.
    """

    target_size: SkipJsonSchema[ImageToImageTargetSize | None] = None


class ImageToTextParameters(BaseModel):
    """Wire parameters of image-to-text, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int | None = Field(
        default=None, description="The amount of maximum tokens to generate."
    )
    generation_parameters: GenerationParameters | None = Field(
        default=None, description="Parametrization of the text generation process"
    )


class ImageToTextPythonOnly(BaseModel):
    """ImageToTextInput's other spec parameters: Python callers only.

    What each means: :class:`ImageToTextParameters`.
    """

    generation_parameters: SkipJsonSchema[GenerationParameters | None] = None


class ObjectDetectionParameters(BaseModel):
    """Wire parameters of object-detection, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        default=None, description="The probability necessary to make a prediction."
    )


class ObjectDetectionPythonOnly(BaseModel):
    """ObjectDetectionInput's other spec parameters: Python callers only.

    What each means: :class:`ObjectDetectionParameters`.
    """


class QuestionAnsweringParameters(BaseModel):
    """Wire parameters of question-answering, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    top_k: int | None = Field(
        default=None,
        description=(
            "The number of answers to return (will be chosen by order of likelihood). Note "
            "that we return less than topk answers if there are not enough options available "
            "within the context."
        ),
    )
    doc_stride: int | None = Field(
        default=None,
        description=(
            "If the context is too long to fit with the question for the model, it will be "
            "split in several chunks with some overlap. This argument controls the size of "
            "that overlap."
        ),
    )
    max_answer_len: int | None = Field(
        default=None,
        description=(
            "The maximum length of predicted answers (e.g., only answers with a shorter "
            "length are considered)."
        ),
    )
    max_seq_len: int | None = Field(
        default=None,
        description=(
            "The maximum length of the total sentence (context + question) in tokens of each "
            "chunk passed to the model. The context will be split in several chunks (using "
            "docStride as overlap) if needed."
        ),
    )
    max_question_len: int | None = Field(
        default=None,
        description=(
            "The maximum length of the question after tokenization. It will be truncated if needed."
        ),
    )
    handle_impossible_answer: bool | None = Field(
        default=None, description="Whether to accept impossible as an answer."
    )
    align_to_words: bool | None = Field(
        default=None,
        description=(
            "Attempts to align the answer to real words. Improves quality on space separated "
            "languages. Might hurt on non-space-separated languages (like Japanese or "
            "Chinese)"
        ),
    )


class QuestionAnsweringPythonOnly(BaseModel):
    """QuestionAnsweringInput's other spec parameters: Python callers only.

    What each means: :class:`QuestionAnsweringParameters`.
    """

    doc_stride: SkipJsonSchema[int | None] = None
    max_answer_len: SkipJsonSchema[int | None] = None
    max_seq_len: SkipJsonSchema[int | None] = None
    max_question_len: SkipJsonSchema[int | None] = None
    handle_impossible_answer: SkipJsonSchema[bool | None] = None
    align_to_words: SkipJsonSchema[bool | None] = None


class SummarizationParameters(BaseModel):
    """Wire parameters of summarization, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    clean_up_tokenization_spaces: bool | None = Field(
        default=None,
        description=("Whether to clean up the potential extra spaces in the text output."),
    )
    truncation: Literal["do_not_truncate", "longest_first", "only_first", "only_second"] | None = (
        Field(default=None, description="The truncation strategy to use.")
    )
    generate_parameters: dict[str, Any] | None = Field(
        default=None, description="Additional parametrization of the text generation algorithm."
    )


class SummarizationPythonOnly(BaseModel):
    """SummarizationInput's other spec parameters: Python callers only.

    What each means: :class:`SummarizationParameters`.
    """

    clean_up_tokenization_spaces: SkipJsonSchema[bool | None] = None
    truncation: SkipJsonSchema[
        Literal["do_not_truncate", "longest_first", "only_first", "only_second"] | None
    ] = None
    generate_parameters: SkipJsonSchema[dict[str, Any] | None] = None


class TableQuestionAnsweringParameters(BaseModel):
    """Wire parameters of table-question-answering, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    padding: Literal["do_not_pad", "longest", "max_length"] | None = Field(
        default=None, description="Activates and controls padding."
    )
    sequential: bool | None = Field(
        default=None,
        description=(
            "Whether to do inference sequentially or as a batch. Batching is faster, but "
            "models like SQA require the inference to be done sequentially to extract "
            "relations within sequences, given their conversational nature."
        ),
    )
    truncation: bool | None = Field(default=None, description="Activates and controls truncation.")


class TableQuestionAnsweringPythonOnly(BaseModel):
    """TableQuestionAnsweringInput's other spec parameters: Python callers only.

    What each means: :class:`TableQuestionAnsweringParameters`.
    """

    padding: SkipJsonSchema[Literal["do_not_pad", "longest", "max_length"] | None] = None
    sequential: SkipJsonSchema[bool | None] = None
    truncation: SkipJsonSchema[bool | None] = None


class TextToImageParameters(BaseModel):
    """Wire parameters of text-to-image, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    guidance_scale: float | None = Field(
        default=None,
        description=(
            "A higher guidance scale value encourages the model to generate images closely "
            "linked to the text prompt, but values too high may cause saturation and other "
            "artifacts."
        ),
    )
    negative_prompt: str | None = Field(
        default=None, description="One prompt to guide what NOT to include in image generation."
    )
    num_inference_steps: int | None = Field(
        default=None,
        description=(
            "The number of denoising steps. More denoising steps usually lead to a higher "
            "quality image at the expense of slower inference."
        ),
    )
    width: int | None = Field(default=None, description="The width in pixels of the output image")
    height: int | None = Field(default=None, description="The height in pixels of the output image")
    scheduler: str | None = Field(
        default=None, description="Override the scheduler with a compatible one."
    )
    seed: int | None = Field(default=None, description="Seed for the random number generator.")


class TextToImagePythonOnly(BaseModel):
    """TextToImageInput's other spec parameters: Python callers only.

    What each means: :class:`TextToImageParameters`.
    """

    scheduler: SkipJsonSchema[str | None] = None


class TextClassificationParameters(BaseModel):
    """Wire parameters of text-classification, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    function_to_apply: Literal["sigmoid", "softmax", "none"] | None = Field(
        default=None,
        description=("The function to apply to the model outputs in order to retrieve the scores."),
    )
    top_k: int | None = Field(
        default=None,
        description=("When specified, limits the output to the top K most probable classes."),
    )


class TextClassificationPythonOnly(BaseModel):
    """TextClassificationInput's other spec parameters: Python callers only.

    What each means: :class:`TextClassificationParameters`.
    """


class TokenClassificationParameters(BaseModel):
    """Wire parameters of token-classification, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    ignore_labels: list[str] | None = Field(default=None, description="A list of labels to ignore")
    stride: int | None = Field(
        default=None,
        description=(
            "The number of overlapping tokens between chunks when splitting the input text."
        ),
    )
    aggregation_strategy: Literal["none", "simple", "first", "average", "max"] | None = Field(
        default=None, description="The strategy used to fuse tokens based on model predictions"
    )


class TokenClassificationPythonOnly(BaseModel):
    """TokenClassificationInput's other spec parameters: Python callers only.

    What each means: :class:`TokenClassificationParameters`.
    """

    stride: SkipJsonSchema[int | None] = None


class TranslationParameters(BaseModel):
    """Wire parameters of translation, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    src_lang: str | None = Field(
        default=None,
        description=(
            "The source language of the text. Required for models that can translate from "
            "multiple languages."
        ),
    )
    tgt_lang: str | None = Field(
        default=None,
        description=(
            "Target language to translate to. Required for models that can translate to "
            "multiple languages."
        ),
    )
    clean_up_tokenization_spaces: bool | None = Field(
        default=None,
        description=("Whether to clean up the potential extra spaces in the text output."),
    )
    truncation: Literal["do_not_truncate", "longest_first", "only_first", "only_second"] | None = (
        Field(default=None, description="The truncation strategy to use.")
    )
    generate_parameters: dict[str, Any] | None = Field(
        default=None, description="Additional parametrization of the text generation algorithm."
    )


class TranslationPythonOnly(BaseModel):
    """TranslationInput's other spec parameters: Python callers only.

    What each means: :class:`TranslationParameters`.
    """

    clean_up_tokenization_spaces: SkipJsonSchema[bool | None] = None
    truncation: SkipJsonSchema[
        Literal["do_not_truncate", "longest_first", "only_first", "only_second"] | None
    ] = None
    generate_parameters: SkipJsonSchema[dict[str, Any] | None] = None


class VisualQuestionAnsweringParameters(BaseModel):
    """Wire parameters of visual-question-answering, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    top_k: int | None = Field(
        default=None,
        description=(
            "The number of answers to return (will be chosen by order of likelihood). Note "
            "that we return less than topk answers if there are not enough options available "
            "within the context."
        ),
    )


class VisualQuestionAnsweringPythonOnly(BaseModel):
    """VisualQuestionAnsweringInput's other spec parameters: Python callers only.

    What each means: :class:`VisualQuestionAnsweringParameters`.
    """


class ZeroShotClassificationParameters(BaseModel):
    """Wire parameters of zero-shot-classification, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    candidate_labels: list[str] = Field(
        description="The set of possible class labels to classify the text into."
    )
    hypothesis_template: str | None = Field(
        default=None,
        description=(
            "The sentence used in conjunction with `candidate_labels` to attempt the text "
            "classification by replacing the placeholder with the candidate labels."
        ),
    )
    multi_label: bool | None = Field(
        default=None,
        description=(
            "Whether multiple candidate labels can be true. If false, the scores are "
            "normalized such that the sum of the label likelihoods for each sequence is 1. If"
            " true, the labels are considered independent and probabilities are normalized "
            "for each candidate."
        ),
    )


class ZeroShotClassificationPythonOnly(BaseModel):
    """ZeroShotClassificationInput's other spec parameters: Python callers only.

    What each means: :class:`ZeroShotClassificationParameters`.
    """


class ZeroShotImageClassificationParameters(BaseModel):
    """Wire parameters of zero-shot-image-classification, as its task spec has them."""

    model_config = ConfigDict(extra="forbid")

    candidate_labels: list[str] = Field(description="The candidate labels for this image")
    hypothesis_template: str | None = Field(
        default=None,
        description=(
            "The sentence used in conjunction with `candidate_labels` to attempt the image "
            "classification by replacing the placeholder with the candidate labels."
        ),
    )


class ZeroShotImageClassificationPythonOnly(BaseModel):
    """ZeroShotImageClassificationInput's other spec parameters: Python callers only.

    What each means: :class:`ZeroShotImageClassificationParameters`.
    """

    hypothesis_template: SkipJsonSchema[str | None] = None
