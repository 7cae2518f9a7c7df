"""The built-in language-model data: routing instructions made from millrace's own messages, each answer one of
four teams and the message its input; CPython's reference documentation as a corpus, one document per topic."""

from millrace.language import dataset
from millrace.sources.builtin import load_builtin
from millrace.sources.builtin_reviews import TOPICS


def test_routing_is_an_alpaca_instruction_set_with_checkable_answers():
    frame = load_builtin("routing")
    assert len(frame) == 800 and set(frame["output"]) == set(TOPICS)
    canonical = dataset.canonical(frame, "sft", "auto", {})
    assert canonical["prompt"][0].startswith("user: Route this customer message") and canonical["answer"][0] in TOPICS


def test_python_docs_is_a_corpus_of_the_reference_topics():
    frame = load_builtin("python_docs")
    assert len(frame) > 50 and "assert" in set(frame["topic"])
    assert frame["text"].str.len().min() > 100
