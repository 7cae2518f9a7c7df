"""The SmolLM2 base as transformers rebuilds it from the GGUF file: the file the README names, the tokenizer's
special tokens, end-of-sequence id and chat template (golden token ids for a fixed chat, against the locked
transformers), a float model whose loss reads the labels; and clear errors for a base that cannot be found."""

import hashlib
import math

import pytest

from millrace.errors import MillraceError
from millrace.language import base
from tests.conftest import ROOT

CHAT = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
# transformers 5.25.0 from the GGUF's metadata: the default system prompt the template adds, then the turns
GOLDEN = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182]
GOLDEN += [2, 198, 1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198, 1, 520, 9531, 198, 36, 2, 198]


@pytest.fixture(scope="module")
def tokenizer():
    return base.load_tokenizer(base.resolve(base.SMOLLM2))


def test_the_gguf_file_is_found_through_its_distribution_and_is_the_one_the_readme_names():
    path = base.bundled_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size == 98_362_432
    assert base.sha256(path) == base.SMOLLM2_SHA256
    assert base.SMOLLM2_SHA256 in (ROOT / "README.md").read_text()
    assert f"LLM_BASE := {base.SMOLLM2_DISTRIBUTION}=={base.SMOLLM2_VERSION}" in (ROOT / "Makefile").read_text()


def test_the_tokenizer_keeps_its_special_tokens_end_of_sequence_and_chat_template(tokenizer):
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("<|im_end|>", 2)
    assert (tokenizer.bos_token, tokenizer.bos_token_id) == ("<|im_start|>", 1)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id  # padding must never be told apart by its id
    assert len(tokenizer) == 49152
    template = hashlib.sha256(tokenizer.chat_template.encode()).hexdigest()
    assert template == "872be49dbb638044ad01b60388f48d469ff2980e5f0dccdc22ec907db54d0788"
    text = tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == GOLDEN


def test_a_chat_template_given_replaces_the_bases(tokenizer):
    plain = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    replaced = base.load_tokenizer(base.resolve(base.SMOLLM2), chat_template=plain)
    assert replaced.apply_chat_template(CHAT, tokenize=False) == "user: What is 2+2?\nassistant: 4\n"


def test_bases_that_cannot_be_found_are_named_with_what_to_give_instead(tmp_path):
    with pytest.raises(MillraceError, match=r"model.pretrained: .* has no config.json"):
        base.resolve(str(tmp_path))
    with pytest.raises(MillraceError, match=r"neither 'smollm2', a checkpoint folder nor a hub id"):
        base.resolve("no-such-model")
    assert base.resolve("HuggingFaceTB/SmolLM2-135M").gguf_file is None  # a hub id: fetched where there is network


@pytest.mark.slow
def test_the_dequantised_model_loads_and_its_loss_reads_only_the_labelled_tokens(tokenizer):
    import torch

    from millrace.language import chat

    model = base.load_model(base.resolve(base.SMOLLM2))
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    example = chat.tokenise(tokenizer, CHAT, 128, "example 1")
    ids, labels = torch.tensor([example.input_ids]), torch.tensor([example.labels])
    with torch.no_grad():
        loss = float(model(input_ids=ids, labels=labels).loss)
        logits = model(input_ids=ids).logits[0, :-1]
    learned = labels[0, 1:] != chat.IGNORE  # a token's loss comes from the logits one position before it
    by_hand = torch.nn.functional.cross_entropy(logits[learned], labels[0, 1:][learned])
    assert math.isfinite(loss) and loss == pytest.approx(float(by_hand), rel=1e-5)
    assert learned.sum() == 2  # "4" and <|im_end|>: the prompt's 37 tokens are not learned
