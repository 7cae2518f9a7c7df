"""A causal language model through the seven stages with the real `dvc repro`: a tiny Llama built from a config
(random weights, SmolLM2's tokenizer and chat template) fine-tuned on a synthetic instruction set the test writes
(greet a person in a language; the answer is that language's greeting: evidence that the pipeline trains,
evaluates and deploys what it trained, not of quality).

It checks what a user relies on: only answers are learned; the tuned model beats the base on the held-out
prompts; the deployed folder loads with plain transformers and answers as trained, end-of-sequence included; a
learning-rate change reruns training but never tokenisation; the deployed release, served by `millrace serve`
with the OpenAI API, answers the test prompts as evaluate recorded, and `millrace drift` reads its requests; an
example whose turns are out of order stops the pipeline at the clean gate, named.
"""

import json

import pandas as pd
import pytest

from millrace.ops.http_ready import wait_until_answers
from tests.e2e.test_serve import start
from tests.helpers.harness import commit_all, copy_project, set_param, sh, stages_run
from tests.helpers.language import GREETINGS, greetings, tiny_llama_folder

pytestmark = pytest.mark.slow

SETTINGS = """
data:
  source: {kind: file, path: data/inputs/greetings.jsonl}
  task: sft
  target: null
  features: null
gates:
  clean: {min_rows: 20}
model:
  pretrained: data/inputs/tiny-llama
  strategy: full
train:
  lr: 0.01
  max_epochs: 25
  batch_size: 8
evaluate:
  thresholds: {perplexity: 100, exact_match: 0.5}
  bootstrap: 50
  generation: {max_new_tokens: 8}
"""
STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = copy_project(tmp_path_factory.mktemp("lm") / "repo")
    tiny_llama_folder(repo / "data/inputs/tiny-llama")
    greetings(repo / "data/inputs/greetings.jsonl")
    (repo / "mine.yaml").write_text(SETTINGS)
    commit_all(repo, "a tiny base and an instruction set")
    sh(repo, "millrace", "preset", "mine.yaml")
    commit_all(repo, "its params")
    ran = sh(repo, "dvc", "repro")
    assert stages_run(ran.stdout) == STAGES
    commit_all(repo, "pipeline run")
    return repo


def test_only_answers_are_learned_from_tokens_made_once(repo):
    from transformers import AutoTokenizer

    manifest = json.loads((repo / "data/label/tokens/manifest.json").read_text())
    assert manifest["task"] == "sft" and manifest["splits"]["train"]["truncated"] == 0
    tokenizer = AutoTokenizer.from_pretrained(repo / "models/train/tokenizer")
    train = pd.read_parquet(repo / "data/label/tokens/train.parquet")
    for labels in train["labels"]:
        learned = tokenizer.decode([label for label in labels if label != -100])
        assert learned.removesuffix("<|im_end|>") in GREETINGS.values()


def test_the_tuned_model_beats_the_base_and_is_judged_against_the_standard(repo):
    evaluation = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    base, tuned = evaluation["base"], evaluation["tuned"]
    assert tuned["perplexity"] < base["perplexity"] / 100
    assert tuned["exact_match"] >= 0.9 and base["exact_match"] == 0.0
    assert evaluation["delivery"]["passed"] and "perplexity" in evaluation["confidence_intervals"]
    assert "control_perplexity" in tuned  # reported beside the test split's
    trained = json.loads((repo / "models/train/model.json").read_text())
    assert trained["strategy"] == "full" and trained["trainable_params"] == trained["total_params"]
    assert (repo / "reports/train/plots/metrics/val/loss.tsv").is_file()
    page = (repo / "reports/review.html").read_text()
    sections = page.split("<section ")[1:]
    assert len(sections) == len(evaluation["answers"]) and all("Greet" in section for section in sections)
    assert not any(word in section for section in sections for word in ("tuned", "base"))  # blind: no side named
    assert set(evaluation["review"]["tuned_side"]) == {"A", "B"}  # the order drawn per prompt
    assert evaluation["review"]["current"] == 0 and evaluation["base_prompt"]["shots"] == 3
    summary = sh(repo, "python", "-m", "millrace.ops.summary").stdout
    assert "Language model: base and tuned" in summary and "deployed language model" in summary


def test_the_deployed_folder_loads_with_transformers_and_answers_as_trained(repo):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    bundle = repo / "models/deploy/bundle"
    model = AutoModelForCausalLM.from_pretrained(bundle).eval()
    tokenizer = AutoTokenizer.from_pretrained(bundle)
    test = pd.read_parquet(repo / "data/label/test.parquet")
    messages = json.loads(test["messages"][0])
    ids = tokenizer.apply_chat_template(
        messages[:-1], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**ids, max_new_tokens=8, do_sample=False, eos_token_id=tokenizer.eos_token_id)
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    assert tokenizer.decode(new, skip_special_tokens=True).strip() == messages[-1]["content"]
    assert new[-1] == tokenizer.eos_token_id  # it stops where it was taught to
    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert manifest["parity"]["identical_greedy_answers"] == manifest["parity"]["prompts"] == 3


def test_the_release_is_served_with_the_openai_api_and_answers_as_evaluated(repo):
    from openai import OpenAI

    release = json.loads((repo / "reports/deploy.json").read_text())["release"]
    assert release["active"] and release["model"] == "greetings-sft"
    assert (repo / "models/releases/greetings-sft/ACTIVE").read_text().strip() == release["version"]
    evaluated = json.loads((repo / "reports/evaluate/metrics.json").read_text())["answers"][0]
    messages = json.loads(pd.read_parquet(repo / "data/label/test.parquet")["messages"][0])[:-1]
    process, url = start(repo)
    try:
        assert wait_until_answers(f"{url}/ready", process, seconds=60), "".join(process.output)
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["greetings-sft"]
        reply = client.chat.completions.create(model="greetings-sft", messages=messages, temperature=0, max_tokens=8)
        assert reply.choices[0].message.content.strip() == evaluated["tuned"] == evaluated["reference"]
        assert reply.choices[0].finish_reason == "stop"  # it ended at the end of sequence, as trained
        stream = client.chat.completions.create(model="greetings-sft", messages=messages, temperature=0, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream) == reply.choices[0].message.content
    finally:
        process.terminate()
        process.wait(timeout=10)
    set_param(repo, r"^  min_rows: 50$", "  min_rows: 2")  # two answers logged: enough to compute, not to judge
    sh(repo, "python", "-m", "millrace.ops.drift")
    sh(repo, "git", "checkout", "params.yaml")
    report = json.loads((repo / "reports/drift.json").read_text())
    assert report["answers"]["answered"] == 2 and report["answers"]["truncated_share"] == 0.0
    prompts = report["features"]["prompt_tokens"]
    assert prompts["psi"] is not None and prompts["current_mean"] == reply.usage.prompt_tokens
    # the training prompts, counted through the same chat template, are as long as the one asked
    assert prompts["reference_mean"] == pytest.approx(prompts["current_mean"], rel=0.2)


def test_a_learning_rate_change_retrains_without_tokenising_again(repo):
    set_param(repo, r"^  lr: 0.01$", "  lr: 0.02")
    would = stages_run(sh(repo, "dvc", "repro", "--dry").stdout)
    assert "train" in would and not {"acquire", "clean", "label"} & set(would)
    sh(repo, "git", "checkout", "params.yaml")


def test_an_example_out_of_turn_stops_the_pipeline_at_the_clean_gate(repo):
    records = [json.loads(line) for line in (repo / "data/inputs/greetings.jsonl").read_text().splitlines()]
    chats = [
        {"messages": [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]}
        for r in records
    ]
    chats.append({"messages": [{"role": "assistant", "content": "Hola."}, {"role": "user", "content": "Greet Ana."}]})
    (repo / "data/inputs/greetings.jsonl").write_text("".join(json.dumps(chat) + "\n" for chat in chats))
    failed = sh(repo, "dvc", "repro", "clean", check=False)
    said = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "Traceback" not in said, said
    assert "example 97: roles assistant → user" in said, said
    assert json.loads((repo / "reports/gates/clean.json").read_text())["success"] is False
    assert not (repo / "data/clean/clean.parquet").exists()  # nothing handed on past the gate
