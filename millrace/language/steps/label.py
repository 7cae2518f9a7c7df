"""label for a language model: split by prompt groups, tokenise once, then the gate (no held-out prompt
repeating a training prompt; every answer learnable; few examples truncated)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from millrace.config.params import Params
from millrace.files import atomic_dir, write_json, write_parquet
from millrace.language import base, tokens
from millrace.language.dataset import crossing, split
from millrace.precision import write_figures
from millrace.quality.gates import Check, expectation, run_gate


def checks(params: Params, crossed: pd.DataFrame, problems: pd.DataFrame, manifest: dict) -> list[Check]:
    gate = params.gates.text
    none = expectation("expect_table_row_count_to_equal", value=0, set_by=f"gates.text.near_duplicate_threshold: "
                       f"{gate.near_duplicate_threshold} (remove the repeats from the data)")  # fmt: skip
    learnable = expectation(
        "expect_column_values_to_be_null", column="problem", set_by="data.text.max_length (or shorten the prompts)"
    )
    shares = pd.DataFrame(
        [{"split": name, "truncated_share": s["truncated_share"]} for name, s in manifest["splits"].items()]
    )
    truncated = expectation(
        "expect_column_values_to_be_between",
        column="truncated_share",
        max_value=gate.max_truncated_share,
        set_by=f"gates.text.max_truncated_share: {gate.max_truncated_share} (or raise data.text.max_length)",
    )
    problems = problems.assign(problem=problems["problem"].astype(object)) if len(problems) else problems
    return [
        Check("prompts_in_train_and_held_out", crossed, [none], index_columns=["split", "example"]),
        Check(
            "answers", problems if len(problems) else _no_problems(), [learnable], index_columns=["split", "example"]
        ),
        Check("truncation", shares, [truncated], index_columns=["split"]),
    ]


def _no_problems() -> pd.DataFrame:
    return pd.DataFrame({"split": ["all"], "example": [0], "problem": pd.Series([None], dtype=object)})


def main(params: Params) -> None:
    frame = pd.read_parquet(Path(params.paths.clean) / "clean.parquet")
    text = params.data.text
    splits = split(frame, params.label.split, params.seed, params.gates.text.near_duplicate_threshold)
    crossed = crossing(splits, params.gates.text.near_duplicate_threshold)
    pretrained = base.resolve(params.model.pretrained)
    print(f"label: tokenising with the tokenizer of {pretrained.description}")
    tokenizer = base.load_tokenizer(pretrained, params.model.chat_template, chat=params.data.task == "sft")
    tokenised, problems = {}, []
    for name, part in splits.items():
        tokenised[name], found = tokens.tokenise(tokenizer, part, params.data.task, text.max_length, name)
        problems += found
    made_by = {
        "task": params.data.task,
        "base": pretrained.description,
        "tokenizer": tokens.fingerprint(tokenizer),
        "chat_template_sha256": hashlib.sha256((tokenizer.chat_template or "").encode()).hexdigest(),
        "max_length": text.max_length,
    }
    problem_frame = pd.DataFrame(problems, columns=["split", "example", "problem"])
    with atomic_dir(params.paths.label) as out:
        manifest = tokens.write(Path(out) / tokens.FOLDER, tokenised, made_by, text.packing)
        run_gate(
            "labels",
            checks(params, crossed, problem_frame, manifest),
            gx_dir=params.paths.gx,
            reports_dir=params.paths.reports,
        )
        for name, part in splits.items():
            write_parquet(Path(out) / f"{name}.parquet", part)
        write_json(Path(out) / "label_map.json", {"task": params.data.task, "classes": [], "target": None})
    report = {"rows": {name: len(part) for name, part in splits.items()}, "tokens": manifest["splits"]}
    report["prompts_in_train_and_held_out"] = len(crossed)
    write_figures(Path(params.paths.reports) / "labels.json", report)
    for name, stats in manifest["splits"].items():
        packed = f", packed into {stats['packed_rows']} rows" if "packed_rows" in stats else ""
        print(
            f"label: {name}: {stats['examples']} examples, {stats['tokens']} tokens ({stats['learned_tokens']} "
            f"learned), {stats['truncated']} truncated{packed}"
        )
