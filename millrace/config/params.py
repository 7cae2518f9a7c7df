"""The typed schema of params.yaml: one frozen model per section, unknown keys forbidden.

Every stage reads params once, at its edge, through `load_params()`. A wrong key or value
raises `ParamsError` naming the key, the value given and what is allowed. Each list of choices is written
once, as a `Literal`; the defaults are params.yaml's, and nothing about a particular dataset has a default
(`data.source` and `data.target` must be given). Lightning's `accelerator`, `strategy`, `precision` and
`devices` are checked here against what Lightning accepts (the lists are static, so parsing params never
imports torch; a test compares them with the installed Lightning).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from millrace.errors import MillraceError

PARAMS_FILE = Path("params.yaml")
# The sections a trained model depends on: what a resumed run must share, what a bundle records.
TRAINING_SECTIONS = frozenset({"seed", "data", "clean", "model", "train"})

BuiltinDataset = Literal[
    "penguins", "iris", "wine", "breast_cancer", "digits", "diabetes", "reviews",
    "routing", "python_docs",  # a language model's: instructions (sft) and a corpus (pretraining)
]  # fmt: skip
Task = Literal["classification", "regression"]
# A causal language model's two tasks: supervised fine-tuning on instruction or chat examples, and continued
# pretraining on a text corpus (millrace/language).
LanguageTask = Literal["sft", "pretraining"]
LANGUAGE_TASKS = get_args(LanguageTask)
# What Lightning's Trainer accepts (lightning.pytorch's AcceleratorConnector): "auto", "gpu" and the registered
# accelerators; "auto" and the registered strategies; the precision names (its aliases 16, "bf16", … warn).
Accelerator = Literal["auto", "cpu", "gpu", "cuda", "mps", "tpu"]
Strategy = Literal[
    "auto",
    "single_device",
    "ddp",
    "ddp_spawn",
    "ddp_fork",
    "ddp_notebook",
    "ddp_find_unused_parameters_false",
    "ddp_find_unused_parameters_true",
    "ddp_spawn_find_unused_parameters_false",
    "ddp_spawn_find_unused_parameters_true",
    "ddp_fork_find_unused_parameters_false",
    "ddp_fork_find_unused_parameters_true",
    "ddp_notebook_find_unused_parameters_false",
    "ddp_notebook_find_unused_parameters_true",
    "fsdp",
    "fsdp_cpu_offload",
    "deepspeed",
    "deepspeed_stage_1",
    "deepspeed_stage_2",
    "deepspeed_stage_2_offload",
    "deepspeed_stage_3",
    "deepspeed_stage_3_offload",
    "deepspeed_stage_3_offload_nvme",
    "xla",
    "xla_debug",
    "single_xla",
    "single_tpu",
]
Precision = Literal[
    "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "transformer-engine",
    "transformer-engine-float16",
]  # fmt: skip
# Metrics where smaller is better: a threshold on them is a ceiling, on every other metric a floor.
LOWER_IS_BETTER = frozenset({"mse", "rmse", "mae", "calibration_error", "worst_slice_mae", "perplexity"})
Metric = Literal[
    "accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "f1_weighted",
    "precision_weighted",
    "recall_weighted",
    "roc_auc",
    "calibration_error",
    "worst_slice_accuracy",
    "mse",
    "rmse",
    "mae",
    "r2",
    "worst_slice_mae",
    # a language model's (millrace/language/judging.py)
    "perplexity",
    "rouge_l",
    "bleu",
    "exact_match",
    "extracted_match",  # exact match of the answer found in a reply (a known answer, or its first line)
]
METRICS = get_args(Metric)  # in the order reports show them


class ParamsError(MillraceError):
    """params.yaml is missing, unreadable, or does not match the schema."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paths(_Section):
    inputs: str = "data/inputs"
    acquire: str = "data/acquire"
    clean: str = "data/clean"
    label: str = "data/label"
    selection: str = "models/selection.json"
    train: str = "models/train"
    deploy: str = "models/deploy"
    releases: str = "models/releases"  # every deployed version, one active (outside DVC's outputs)
    monitoring: str = "data/monitoring"  # the server's request log (outside DVC's outputs)
    reports: str = "reports"
    gx: str = "gx"


class BuiltinSource(_Section):
    kind: Literal["builtin"] = "builtin"
    name: BuiltinDataset


def _known_encoding(name: str) -> str:
    if name != "auto":
        try:
            codecs.lookup(name)
        except LookupError:
            raise ValueError(f"unknown encoding {name!r}") from None
    return name


class _TableOptions(_Section):
    """How to read table files, wherever they come from (a path, a glob, an archive, a URL)."""

    format: Literal["auto", "csv", "tsv", "parquet", "json", "jsonl", "excel"] = "auto"  # auto: from the suffix
    # auto: a byte-order mark, else UTF-8 (verified); or e.g. latin-1, cp1252
    encoding: Annotated[str, AfterValidator(_known_encoding)] = "auto"
    members: str = "**/*"  # inside an archive: a glob of the files to read
    sheet: str | int = 0  # excel: sheet name or position
    # CSV/TSV: auto sniffs the delimiter among , ; tab | (acquire says what it chose); or the character itself
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    decimal: Literal["auto", ".", ","] = "auto"  # auto: a comma when numbers in the file are written 3,5
    thousands: Literal[",", ".", " ", "'"] | None = None  # a separator inside numbers (1.234,5): removed
    quotechar: str = Field('"', min_length=1, max_length=1)
    header: bool = True  # false: no header row; columns are named column_1, column_2, …
    comment: str | None = Field(None, min_length=1, max_length=1)  # e.g. "#": lines starting with it are skipped


class FileSource(_TableOptions):
    """A table file, a glob of files with the same columns (concatenated), or a .zip/.tar.gz of them."""

    kind: Literal["file"]
    path: str


class UrlSource(_TableOptions):
    """A table file or archive over HTTP(S); pin `sha256` so DVC's view of the data cannot go stale."""

    kind: Literal["url"]
    url: str = Field(pattern=r"^https?://")
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    timeout_seconds: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)  # transient failures only: refused, reset, timeout, 5xx
    backoff_seconds: float = Field(1.0, ge=0)  # doubles after each failed attempt
    max_bytes: int = Field(2 << 30, ge=1)


class SqlSource(_Section):
    """The result of one query through SQLAlchemy, e.g. url: sqlite:///data/inputs/shop.db."""

    kind: Literal["sql"]
    url: str | None = None
    url_env: str | None = None  # the name of an environment variable holding the URL (keeps passwords out of git)
    query: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_url(self) -> SqlSource:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of url and url_env")
        return self


class ImageFolderSource(_Section):
    """One sub-folder per class holding PNG/JPEG files (or an archive of them); the folder name is the label."""

    kind: Literal["image_folder"]
    path: str


class TextSource(_TableOptions):
    """A table file with a text column, or a folder (or archive) with one sub-folder of .txt files per class."""

    kind: Literal["text"]
    path: str
    text_column: str = "text"


Source = Annotated[
    BuiltinSource | FileSource | UrlSource | SqlSource | ImageFolderSource | TextSource, Field(discriminator="kind")
]


class ImageInput(_Section):
    size: int | None = Field(None, ge=4, le=512)  # square side in pixels; None: the most common training size
    channels: Literal[1, 3] | None = None  # None: 1 if every training image is greyscale, else 3


class TextInput(_Section):
    # tokens per text (a classifier's encoder reads at most 512) or per language-model example; longer: truncated
    max_length: int = Field(64, ge=8, le=32768)
    # A language model's examples (millrace/language/records.py): auto finds the shape from the columns
    format: Literal["auto", "alpaca", "messages", "sharegpt", "text"] = "auto"
    columns: dict[str, str] = {}  # the format's names to your columns, e.g. {instruction: question, output: answer}
    packing: bool = False  # several examples in one sequence of max_length, none attending to another


# What a table column is to the model (millrace/inputs/roles.py infers it; data.features.roles overrides it).
Role = Literal["numeric", "categorical", "high_cardinality", "text", "datetime", "identifier", "constant", "empty"]


class FeatureSelection(_Section):
    """Which columns the model reads, when listing them all is not what you want."""

    include: list[str] | None = None  # None: every column but the target (identifiers, constants excluded)
    exclude: list[str] = []
    roles: dict[str, Role] = {}  # e.g. {customer_id: identifier, zip: categorical, notes: text}


class Data(_Section):
    source: Source  # no default: which data is the user's to say
    target: str | None = None  # required for a table, image or text classifier or regressor
    # auto: a numeric target with many values is regression; sft or pretraining: a causal language model
    task: Literal["auto", Task, LanguageTask] = "auto"
    # None: every column except the target, each used as its inferred role (identifiers, constants, empty
    # columns left out and named); a list: exactly those columns; or {include, exclude, roles}
    features: list[str] | FeatureSelection | None = None
    image: ImageInput = ImageInput()
    text: TextInput = TextInput()

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> Data:
        if self.task in LANGUAGE_TASKS:
            if self.target is not None:
                raise ValueError(f"a language model ({self.task}) has no target column; remove data.target")
            return self
        if self.target is None:
            raise ValueError(
                "set data.target, the column to predict (or data.task: sft | pretraining for a language model)"
            )
        if self.text.max_length > 512:
            raise ValueError("data.text.max_length: a text classifier's encoder reads at most 512 tokens")
        named = self.features if isinstance(self.features, list) else (self.features and self.features.include)
        if named is not None and self.target in named:
            raise ValueError(f"the target {self.target!r} cannot also be a feature")
        return self


class Missing(_Section):
    numeric: Literal["drop", "median", "mean", "mode", "constant"] = "median"
    categorical: Literal["drop", "mode", "constant"] = "mode"
    numeric_constant: float = 0.0
    categorical_constant: str = "missing"
    columns: dict[str, Literal["drop", "median", "mean", "mode", "constant"]] = {}  # per column, over the above


class Outliers(_Section):
    method: Literal["none", "iqr", "zscore"] = "iqr"
    action: Literal["clip", "drop"] = "clip"
    iqr_k: float = Field(1.5, gt=0)
    z: float = Field(3.0, gt=0)


class TextCleaning(_Section):
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    control_characters: Literal["remove", "keep"] = "remove"  # all but tab and newline (NUL and CR included)
    fix_mojibake: bool = True  # "cafÃ©" → "café", by ftfy, only where it is confident
    collapse_whitespace: bool = False  # runs of spaces, tabs and newlines → one space


class ValueFilter(_Section):
    """Keep rows whose value lies in [min, max], or is one of `allowed`; quarantine the rest."""

    min: float | None = None
    max: float | None = None
    allowed: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ValueFilter:
        ranged = self.min is not None or self.max is not None
        if ranged == (self.allowed is not None):
            raise ValueError("give either min/max or allowed")
        return self


CleanStep = Literal["coerce", "text", "duplicates", "filters", "missing", "outliers"]
CLEAN_STEPS = get_args(CleanStep)


class CorpusCleaning(_Section):
    """Continued pretraining's corpus (millrace/language/corpus.py); each removal is counted and quarantined."""

    min_chars: int = Field(20, ge=0)
    max_symbol_share: float = Field(0.3, gt=0, le=1)  # over this share of non-letters/digits/spaces: junk
    near_duplicate_threshold: float | None = Field(0.8, gt=0, le=1)  # similarity of near repeats; null: off
    scrub: bool = False  # e-mail addresses and phone numbers → <email>, <phone>


class Clean(_Section):
    steps: list[CleanStep] = list(CLEAN_STEPS)  # which steps run, in this order
    coerce: dict[str, Literal["int", "float", "string", "bool", "datetime"]] = {}
    text: TextCleaning = TextCleaning()
    strip_strings: bool = True
    lowercase_strings: bool = False
    drop_duplicates: bool = True  # exact duplicate rows
    duplicate_key: list[str] | None = None  # also: rows repeating these columns' values (the first is kept)
    filters: dict[str, ValueFilter] = {}
    missing: Missing = Missing()
    outliers: Outliers = Outliers()
    corpus: CorpusCleaning = CorpusCleaning()  # continued pretraining's documents

    @field_validator("steps")
    @classmethod
    def _steps_once(cls, steps: list[str]) -> list[str]:
        repeated = sorted({s for s in steps if steps.count(s) > 1})
        if repeated:
            raise ValueError(f"{repeated} appear more than once")
        return steps


class RawGate(_Section):
    # a GE suite under gx/expectations; None: generic checks only; auto: <dataset>_raw if that suite exists
    suite: str | None = "auto"


class CleanGate(_Section):
    suite: str | None = "auto"  # auto: <dataset>_clean if that suite exists
    min_rows: int = Field(50, ge=1)
    max_removed_share: float = Field(0.25, gt=0, le=1)  # per cleaning step: more than this is a data problem


class LabelsGate(_Section):
    # auto: a quarter of an even share, 1 / (4 × classes): 0.083 for 3 classes, 0.025 for 10
    min_class_share: Annotated[float, Field(ge=0, lt=1)] | Literal["auto"] = "auto"


class TextGate(_Section):
    """A language model's examples, once tokenised."""

    max_truncated_share: float = Field(0.05, ge=0, le=1)  # examples cut by data.text.max_length
    # prompts at least this similar are one prompt: the split keeps them on one side
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1)


class Gates(_Section):
    raw: RawGate = RawGate()
    clean: CleanGate = CleanGate()
    labels: LabelsGate = LabelsGate()
    text: TextGate = TextGate()


class Split(_Section):
    train: float = Field(0.7, gt=0, lt=1)
    val: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> Split:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must sum to 1, got {total:g}")
        return self


class LabelRule(_Section):
    """A labelling function: votes `label` for the rows it matches, abstains on the rest."""

    name: str
    label: str
    column: str | None = None  # default: the text column
    keywords: list[str] | None = None  # any of these whole words, case-insensitive
    regex: str | None = None  # a regular expression searched in the column
    above: float | None = None  # threshold rules: column > above and/or column < below
    below: float | None = None
    weight: float = Field(1.0, gt=0)  # label.combine: weighted

    @model_validator(mode="after")
    def _one_kind(self) -> LabelRule:
        kinds = [self.keywords is not None, self.regex is not None, self.above is not None or self.below is not None]
        if sum(kinds) != 1:
            raise ValueError(f"rule {self.name!r}: give exactly one of keywords, regex, or above/below")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"rule {self.name!r}: regex {self.regex!r} does not compile: {exc}") from None
        return self


class AnnotationFile(_Section):
    """Human labels kept beside the data: CSV / JSON Lines / Parquet, or a Label Studio JSON export."""

    path: str
    key: str = "row_id"  # the column matching label.key (row_id: what the active-learning export carries)
    label_column: str = "label"
    annotator_column: str | None = None  # set: Cohen's kappa between annotators, majority per row


class LabelReview(_Section):
    enabled: bool = True  # confident learning: likely mislabelled rows → data/label/label_review.csv
    folds: int = Field(5, ge=2, le=20)
    max_rows: int = Field(200, ge=1)
    # Each fold's model trains on at most this many of the other folds' rows (a random sample);
    # every row is still scored out of fold. Keeps the review linear and quick on millions of rows.
    fit_rows: int = Field(100_000, ge=100)


class ActiveLearning(_Section):
    batch: int = Field(50, ge=0)  # unlabelled rows to export for labelling; 0: none
    strategy: Literal["margin", "uncertainty", "entropy"] = "margin"


class Label(_Section):
    split: Split = Split()
    key: str | None = None  # a column identifying each row; None: row_id, a hash of the row's other values
    annotations: list[AnnotationFile] = []  # a human label always wins over a rule
    rules: list[LabelRule] = []  # weak supervision for rows without a human label
    combine: Literal["majority", "weighted"] = "majority"
    review: LabelReview = LabelReview()
    active_learning: ActiveLearning = ActiveLearning()

    @field_validator("rules")
    @classmethod
    def _names_unique(cls, rules: list[LabelRule]) -> list[LabelRule]:
        names = [r.name for r in rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names {repeated} are used more than once")
        return rules


class Lora(_Section):
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    # auto: the attention's query and value projections (query, value in MiniLM; q_proj, v_proj in Llama-like
    # language models, c_attn in GPT-2)
    target_modules: list[str] | Literal["auto"] = "auto"


class Distill(_Section):
    teacher: str  # a train output folder (model.safetensors, model.json, preprocess.json) of the same data
    temperature: float = Field(2.0, gt=0)
    alpha: float = Field(0.7, ge=0, le=1)  # weight of the teacher's soft targets; 1 - alpha on the true labels


# The families of millrace/models/catalogue.py (a test keeps the two the same; params never import the catalogue,
# whose changes would otherwise rerun every stage that parses params).
FamilyName = Literal["tabular_mlp", "linear", "lightgbm", "xgboost", "catboost", "image_cnn", "text_minilm", "text_bow"]
LanguageStrategy = Literal["full", "lora", "prompt_tuning", "freeze", "gradual_unfreeze", "qlora"]


class Model(_Section):
    name: Literal["auto", FamilyName, "causal_lm"] = (
        "auto"  # auto: select chooses (causal_lm: data.task sft, pretraining)
    )
    strategy: Literal["auto", "full", "freeze", "lora", "gradual_unfreeze", "prompt_tuning", "qlora"] = "auto"
    size: Literal["auto", "small", "medium", "large"] = "auto"
    preference: Literal["speed", "balanced", "accuracy"] = "balanced"
    time_budget_minutes: float = Field(10.0, gt=0)
    # Tables with name auto: the families select compares on held-out data; auto: every table family (one family:
    # chosen by preference, without judging).
    portfolio: Literal["auto"] | list[FamilyName] = "auto"
    ensemble: int = Field(3, ge=0, le=8)  # a portfolio's best k blended, kept only if it beats each; 0: none
    dropout: float = Field(0.1, ge=0, lt=1)
    lora: Lora = Lora()
    distill: Distill | None = None  # train a small student on a teacher's soft targets
    # A causal language model (data.task sft or pretraining; millrace/language):
    pretrained: str = "smollm2"  # smollm2 (bundled), a local Hugging Face checkpoint folder, or a hub id
    chat_template: str | None = None  # a Jinja chat template replacing the base's
    freeze_layers: str | None = None  # strategy freeze: `first N` or `last N` decoder blocks
    virtual_tokens: int = Field(20, ge=1, le=512)  # strategy prompt_tuning

    @field_validator("portfolio")
    @classmethod
    def _some_families(cls, value):
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("list each family once, at least one, or write auto")
        return value


def _lightning_devices(devices: int | str | list[int]) -> int | str | list[int]:
    """As Lightning takes them: a count (-1: all), "auto", device indices as a list or "0,1", or "-1"."""
    if isinstance(devices, int) and (devices >= 1 or devices == -1):
        return devices
    if isinstance(devices, list) and devices and all(d >= 0 for d in devices):
        return devices
    if isinstance(devices, str) and re.fullmatch(r"auto|-1|\d+|\d+(,\d+)*,?", devices.strip()):
        return devices
    raise ValueError('give a number of devices (-1: all), "auto", or device indices such as [0, 1] or "0,1"')


class Augment(_Section):
    """Random image transforms applied to training batches only."""

    flip: bool = False  # horizontal flips; wrong for digits and text in images
    rotate_degrees: float = Field(0.0, ge=0, le=180)
    shift: float = Field(0.0, ge=0, le=0.5)  # share of the image size


class Train(_Section):
    lr: float = Field(0.01, gt=0)
    max_epochs: int = Field(60, ge=1)
    batch_size: int = Field(32, ge=1)
    weight_decay: float = Field(0.0001, ge=0)
    patience: int = Field(10, ge=1)
    accelerator: Accelerator = "auto"
    devices: Annotated[int | str | list[int], AfterValidator(_lightning_devices)] = "auto"
    strategy: Strategy = "auto"
    num_nodes: int = Field(1, ge=1)  # machines taking part in DDP (docs/FLOWS.md)
    precision: Precision = "32-true"
    scheduler: Literal["none", "cosine", "plateau"] = "none"
    pretrained_lr_scale: float = Field(0.05, gt=0, le=1)  # lr × this for a pretrained encoder's own weights
    resume: Literal["auto", "never"] = "auto"  # auto: continue from the last checkpoint of an interrupted run
    unfreeze_every: int = Field(1, ge=1)  # gradual_unfreeze: epochs between unfreezing the next layer
    augment: Augment = Augment()
    accumulate: int = Field(1, ge=1)  # batches whose gradients make one optimiser step (Lightning)
    # A causal language model (data.task sft or pretraining):
    warmup_share: float = Field(0.1, ge=0, lt=1)  # of the optimiser steps: lr rises linearly, then cosine decay
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, more time


class Generation(_Section):
    """How a language model answers the test prompts when evaluated: pinned, so runs compare."""

    max_new_tokens: int = Field(64, ge=1, le=4096)
    do_sample: bool = False  # false: greedy, the same answer every run
    temperature: float = Field(1.0, gt=0)  # with do_sample
    top_p: float = Field(1.0, gt=0, le=1)  # with do_sample
    max_examples: int | None = Field(200, ge=1)  # test prompts answered (the first, in split order); null: all
    # the base answers after this many training examples as earlier turns: a fair chance at the answers' format
    base_shots: int = Field(3, ge=0, le=16)


class Review(_Section):
    per_class: int = Field(3, ge=0, le=50)  # samples per class and kind on reports/review.html; 0: no page
    max_wrong: int | None = Field(None, ge=0)  # set: more current "wrong" verdicts fail the delivery standard
    # a language model: set, the tuned model's win rate over the base in reviewers' current preferences
    # (reports/review_preferences.csv; a tie half a win) must reach this (its interval's low end under lower_bound)
    min_win_rate: float | None = Field(None, ge=0, le=1)


class Evaluate(_Section):
    # The delivery standard: a floor on each metric, a ceiling on errors (mse, rmse, mae,
    # calibration_error, worst_slice_mae).
    thresholds: dict[Metric, float] = {"accuracy": 0.9, "f1_macro": 0.85}
    # test-split columns to report metrics per value (numbers: per quartile); auto: the categorical features
    # with 2 to 10 values
    slices: list[str] | Literal["auto"] = "auto"
    slice_min_rows: int = Field(5, ge=1)  # smaller slices are reported, not judged
    bootstrap: int = Field(200, ge=0, le=10_000)  # resamples for 95% intervals; 0: none
    baselines: bool = True  # train scikit-learn baselines on the same split and report them
    baseline_margin: float | None = None  # set: the model must beat the best baseline by this much
    review: Review = Review()
    # point: the test metric itself meets each threshold; lower_bound: its 95% bootstrap interval's pessimistic
    # end does (the low end of a score, the high end of an error), so a lucky test split cannot pass
    standard: Literal["point", "lower_bound"] = "point"
    generation: Generation = Generation()  # a language model's answers to the test prompts

    @model_validator(mode="after")
    def _intervals_for_lower_bound(self) -> Evaluate:
        if self.standard == "lower_bound" and self.bootstrap == 0:
            raise ValueError("standard: lower_bound judges the bootstrap interval; set evaluate.bootstrap above 0")
        return self


Variant = Literal["int8", "pruned"]


class Deploy(_Section):
    # the registry's name for this model (its own active version, history, rollback); None: "<dataset>-<target>"
    model_name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    parity_tolerance: float = Field(1e-4, gt=0)  # max abs probability difference vs checkpoint
    champion_tolerance: float = Field(0.02, ge=0)  # how much worse than the active release (primary metric) is allowed
    promote: Literal["auto", "manual"] = "auto"  # auto: a new release becomes active; manual: `millrace promote`
    variants: list[Variant] = ["int8"]  # optimised ONNX graphs built, measured and shipped
    prune_amount: float = Field(0.3, gt=0, lt=1)  # pruned: share of Linear/Conv weights set to zero
    variant_tolerance: float = Field(0.01, ge=0)  # a variant losing more of the primary metric is refused
    # a language model's int8 variant raising validation perplexity by more than this share is refused
    perplexity_tolerance: float = Field(0.05, ge=0)
    targets: list[Literal["local", "edge", "cloud"]] = ["local", "edge", "cloud"]  # what the bundle carries


class Serve(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_body_bytes: int = Field(1_000_000, ge=1)
    max_batch: int = Field(1024, ge=1)
    token_env: str | None = None  # name of an environment variable holding a bearer token
    reload_seconds: float = Field(2.0, ge=0)  # how often to look for a newly promoted release; 0: never
    variant: Literal["fp32", Variant] = "fp32"  # which of the bundle's ONNX graphs to serve
    max_concurrency: int = Field(64, ge=1)  # predictions in flight beyond this are answered 503 at once
    # A language model: answers generated at once, requests waiting for a slot (beyond: 429), tokens per answer
    generation_slots: int = Field(1, ge=1)
    generation_queue: int = Field(8, ge=0)
    max_new_tokens: int = Field(512, ge=1)


class Monitor(_Section):
    log_requests: bool = True  # the server logs a sample of its records for `millrace drift`
    sample_rate: float = Field(1.0, ge=0, le=1)
    max_rows: int = Field(100_000, ge=1)  # beyond this the oldest logged records go
    max_record_bytes: int = Field(10_000, ge=1)  # a bigger record is logged without its inputs
    window: int = Field(5_000, ge=1)  # the most recent records the drift check compares
    min_rows: int = Field(50, ge=1)  # fewer logged records: no verdict
    psi_threshold: float = Field(0.2, gt=0)  # population stability index over this: drifted
    log_texts: bool = False  # a language model's prompts and answers are logged (else only their lengths)


class Schedule(_Section):
    """When a deployment runs: a cron expression, or every `interval_seconds`."""

    cron: str | None = None
    interval_seconds: float | None = Field(None, gt=0)
    timezone: str = "UTC"
    active: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give either cron or interval_seconds")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"cron {self.cron!r} needs five fields: minute hour day-of-month month day-of-week")
        return self


class Flows(_Section):
    """The Prefect flows: retries, timeouts, notifications and the scheduled deployments."""

    retries: int = Field(3, ge=0, le=10)  # transient failures only (a URL that did not answer); a gate never
    retry_backoff_seconds: float = Field(30.0, ge=0)  # doubled on each retry
    stage_timeout_seconds: float = Field(6 * 3600, gt=0)  # a stage running longer is stopped, the run fails
    webhook_env: str | None = None  # name of an environment variable holding a URL; a failed run posts JSON to it
    work_pool: str = "millrace"  # `python -m flows.deployments register` puts the deployments on this pool
    retrain: Schedule = Schedule(cron="0 2 * * *")  # nightly: fresh data, retrain, deploy if it beats the champion
    drift: Schedule = Schedule(cron="0 * * * *")  # hourly: the drift check on the served model's requests
    retrain_on_drift: bool = True  # a drift check that finds drift starts the retraining deployment


class Sweep(_Section):
    """`millrace sweep`: every combination of the grid a queued `dvc exp run`, `jobs` at a time."""

    grid: dict[str, list[Any]] = {}  # params key -> values, e.g. {train.lr: [0.003, 0.01]}
    jobs: int = Field(2, ge=1, le=64)  # `dvc queue start -j`: experiments running at once

    @field_validator("grid")
    @classmethod
    def _values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [key for key, values in grid.items() if not values]
        if empty:
            raise ValueError(f"{', '.join(empty)}: give at least one value")
        return grid


class Params(_Section):
    seed: int = 42
    paths: Paths = Paths()
    data: Data
    clean: Clean = Clean()
    gates: Gates = Gates()
    label: Label = Label()
    model: Model = Model()
    train: Train = Train()
    evaluate: Evaluate = Evaluate()
    deploy: Deploy = Deploy()
    serve: Serve = Serve()
    monitor: Monitor = Monitor()
    flows: Flows = Flows()
    sweep: Sweep = Sweep()

    @model_validator(mode="after")
    def _model_fits_the_task(self) -> Params:
        language = self.data.task in LANGUAGE_TASKS
        if language and self.model.name not in ("auto", "causal_lm"):
            raise ValueError(f"model.name: {self.model.name} is not a language model; use auto or causal_lm")
        if not language and self.model.name == "causal_lm":
            raise ValueError("model.name: causal_lm trains on data.task sft or pretraining, not on a target column")
        if not language and self.model.strategy in ("prompt_tuning", "qlora"):
            raise ValueError(f"model.strategy: {self.model.strategy} is for language models (data.task sft)")
        if language and self.model.strategy == "freeze" and not self.model.freeze_layers:
            raise ValueError("model.strategy: freeze needs model.freeze_layers (`first N` or `last N`)")
        return self


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    value = error.get("input")
    allowed = ""
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (value {value!r}); check the spelling against params.yaml's schema"
    if error["type"] == "literal_error":
        allowed = f"; allowed: {error['ctx']['expected']}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key or '(top level)'}: {message} (got {value!r}){allowed}"


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-loaded mapping; the error lists every wrong key at once."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = "\n".join(f"  - {_describe(e)}" for e in exc.errors())
        raise ParamsError(f"{source} does not match the schema:\n{lines}") from None


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path} not found; run from the project root") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    return parse_params(raw, str(path))
