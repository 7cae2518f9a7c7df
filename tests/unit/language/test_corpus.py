"""Corpus cleaning and repeated texts: each removal has its reason and row, the first copy stays, near repeats
are found by similarity (a changed word) and not by luck (different texts stay), e-mail addresses and phone
numbers are scrubbed and counted, and prompts repeating across splits are found exactly, normalised or nearly."""

from millrace.language import near_duplicates
from millrace.language.corpus import CorpusRules, clean, scrub

STORY = (
    "The mill race carried water from the river to the wheel, and the miller opened the sluice every morning "
    "before the sun rose over the valley."
)


def test_each_removal_is_counted_with_its_row_and_reason_and_the_first_copy_stays():
    texts = [
        STORY,
        "too short",
        "{}[]<>/// ### $$$ %%% {{{ }}} ((( ))) ;;; a",
        "12345 67890 12345 67890 12345",
        STORY,
        STORY.replace("every morning", "each morning"),
        "A completely different document about bread, flour and the ovens of the village bakery.",
    ]
    result = clean(texts, CorpusRules())
    assert result.rows == [0, 6]
    assert [(entry["row"], entry["reason"]) for entry in result.quarantine] == [
        (2, "shorter than 20 characters"),
        (3, "junk: over 30% symbols, or no letter"),
        (4, "junk: over 30% symbols, or no letter"),
        (5, "exact repeat of row 1"),
        (6, "near repeat of row 1"),
    ]
    assert result.counts() == {
        "shorter than 20 characters": 1,
        "junk: over 30% symbols, or no letter": 2,
        "exact repeat of row 1": 1,
        "near repeat of row 1": 1,
    }
    assert clean(texts, CorpusRules(near_duplicate_threshold=None)).rows == [0, 5, 6]


def test_emails_and_phone_numbers_are_scrubbed_and_counted_dates_are_not():
    text = "Write to jane.doe+mill@example.co.uk or call +44 20 7946 0958 or (030) 1234 5678 before 2024-01-15."
    scrubbed, emails, phones = scrub(text)
    assert scrubbed == "Write to <email> or call <phone> or <phone> before 2024-01-15."
    assert (emails, phones) == (1, 2)
    result = clean([text], CorpusRules(scrub=True))
    assert result.kept == [scrubbed] and result.scrubbed == {"email": 1, "phone": 2}


def test_prompts_repeating_across_splits_exactly_normalised_or_nearly():
    train = ["What is the capital of France?", STORY, "How many legs does a spider have?"]
    held_out = [
        "How many legs does a spider have?",
        "what is the CAPITAL of france",
        STORY.replace("miller", "millers"),
        "Name a prime number larger than ten.",
    ]
    assert near_duplicates.across(train, held_out, 0.8) == [(0, 2, True), (1, 0, False), (2, 1, False)]
