"""Cleaning a text corpus for continued pretraining, each removal counted and kept for review.

In order: documents shorter than `min_chars` (after stripping); junk, whose share of characters that are not
letters, digits or whitespace is over `max_symbol_share` (markup, tables of symbols, encoded blobs) or which
have no letter at all; exact repeats; near repeats (millrace.language.near_duplicates, at
`near_duplicate_threshold`; None: off). The first of each repeated group stays. With `scrub`, e-mail addresses
and phone numbers in what is kept become `<email>` and `<phone>` (a phone number: 9 to 15 digits in groups, an
optional +country code; a heuristic, counted so its effect can be checked).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from millrace.language.near_duplicates import first_copies

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])")
QUOTED = 200  # characters of a removed document kept in the quarantine


@dataclass(frozen=True)
class CorpusRules:
    min_chars: int = 20
    max_symbol_share: float = 0.3
    near_duplicate_threshold: float | None = 0.8
    scrub: bool = False


@dataclass
class CleanCorpus:
    kept: list[str]
    rows: list[int]  # each kept document's row in the input
    quarantine: list[dict[str, object]] = field(default_factory=list)  # row (1 = first), reason, text (cut)
    scrubbed: dict[str, int] = field(default_factory=dict)  # email, phone: how many were replaced

    def counts(self) -> dict[str, int]:
        return dict(Counter(str(entry["reason"]) for entry in self.quarantine))


def _junk(text: str, max_symbol_share: float) -> bool:
    if not any(c.isalpha() for c in text):
        return True
    symbols = sum(1 for c in text if not (c.isalnum() or c.isspace()))
    return symbols / len(text) > max_symbol_share


def _phone(match: re.Match) -> str:
    digits = sum(c.isdigit() for c in match.group())
    return "<phone>" if 9 <= digits <= 15 else match.group()


def scrub(text: str) -> tuple[str, int, int]:
    """The text with e-mail addresses and phone numbers replaced, and how many of each."""
    text, emails = EMAIL.subn("<email>", text)
    replaced = PHONE.sub(_phone, text)
    phones = replaced.count("<phone>") - text.count("<phone>")
    return replaced, emails, phones


def clean(texts: list[str], rules: CorpusRules) -> CleanCorpus:
    quarantine: list[dict[str, object]] = []
    candidates: list[int] = []
    for row, text in enumerate(texts):
        stripped = text.strip()
        reason = None
        if len(stripped) < rules.min_chars:
            reason = f"shorter than {rules.min_chars} characters"
        elif _junk(stripped, rules.max_symbol_share):
            reason = f"junk: over {rules.max_symbol_share:.0%} symbols, or no letter"
        if reason:
            quarantine.append({"row": row + 1, "reason": reason, "text": stripped[:QUOTED]})
        else:
            candidates.append(row)
    exact: dict[str, int] = {}
    unique = []
    for row in candidates:
        stripped = texts[row].strip()
        if stripped in exact:
            reason = f"exact repeat of row {exact[stripped] + 1}"
            quarantine.append({"row": row + 1, "reason": reason, "text": stripped[:QUOTED]})
        else:
            exact[stripped] = row
            unique.append(row)
    kept_rows = unique
    if rules.near_duplicate_threshold is not None:
        repeats = first_copies([texts[row].strip() for row in unique], rules.near_duplicate_threshold)
        kept_rows = []
        for row, earlier in zip(unique, repeats, strict=True):
            if earlier is None:
                kept_rows.append(row)
            else:
                reason = f"near repeat of row {unique[earlier] + 1}"
                quarantine.append({"row": row + 1, "reason": reason, "text": texts[row].strip()[:QUOTED]})
    kept, emails, phones = [], 0, 0
    for row in kept_rows:
        text = texts[row].strip()
        if rules.scrub:
            text, found_emails, found_phones = scrub(text)
            emails, phones = emails + found_emails, phones + found_phones
        kept.append(text)
    quarantine.sort(key=lambda entry: int(entry["row"]))
    return CleanCorpus(kept, kept_rows, quarantine, {"email": emails, "phone": phones} if rules.scrub else {})
