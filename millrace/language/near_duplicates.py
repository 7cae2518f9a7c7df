"""Texts that are one text written twice: exactly, once normalised (case, Unicode form, punctuation,
whitespace), or nearly (MinHash estimate of the Jaccard similarity of their character 5-grams at or above a
threshold, datasketch's LSH finding the candidates).

A corpus keeps the first of each group; a prompt in the validation or test split that repeats a training prompt
makes the held-out score measure memory, so the gate names each such pair.
"""

from __future__ import annotations

from datasketch import MinHash, MinHashLSH

from millrace.labelling.near_duplicates import normalised_text

SHINGLE = 5  # characters: short prompts have enough of them, and a changed word changes only a few
PERMUTATIONS = 64


def _shingles(text: str) -> list[bytes]:
    normal = normalised_text(text)
    if len(normal) <= SHINGLE:
        return [normal.encode()]
    return [normal[i : i + SHINGLE].encode() for i in range(len(normal) - SHINGLE + 1)]


def signatures(texts: list[str]) -> list[MinHash]:
    return MinHash.bulk((_shingles(text) for text in texts), num_perm=PERMUTATIONS, seed=1)


def _closest(signature: MinHash, lsh: MinHashLSH, kept: dict[int, MinHash], threshold: float) -> int | None:
    """The earliest indexed text whose estimated similarity reaches the threshold (LSH only proposes)."""
    close = [j for j in lsh.query(signature) if signature.jaccard(kept[j]) >= threshold]
    return min(close) if close else None


def first_copies(texts: list[str], threshold: float) -> list[int | None]:
    """For each text, the index of an earlier text it repeats (normalised, or nearly at `threshold`), else None."""
    seen: dict[str, int] = {}
    lsh, kept = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS), {}
    repeats: list[int | None] = []
    for i, (text, signature) in enumerate(zip(texts, signatures(texts), strict=True)):
        normal = normalised_text(text)
        earlier = seen.get(normal)
        if earlier is None:
            earlier = _closest(signature, lsh, kept, threshold)
        repeats.append(earlier)
        if earlier is None:
            seen[normal], kept[i] = i, signature
            lsh.insert(i, signature)
    return repeats


def groups(texts: list[str], threshold: float) -> list[int]:
    """Each text's group, named by its first member: texts joined wherever any two are repeats (normalised, or
    nearly at `threshold`), so that the groups hold every similar pair even when similarity is not transitive
    (A like B and B like C, though A is not like C: one group)."""
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    lsh, kept = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS), {}
    for i, (text, signature) in enumerate(zip(texts, signatures(texts), strict=True)):
        normal = normalised_text(text)
        linked = [seen[normal]] if normal in seen else []
        linked += [j for j in lsh.query(signature) if signature.jaccard(kept[j]) >= threshold]
        for j in linked:
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
        seen.setdefault(normal, i)
        kept[i] = signature
        lsh.insert(i, signature)
    return [root(i) for i in range(len(texts))]


def across(train: list[str], held_out: list[str], threshold: float) -> list[tuple[int, int, bool]]:
    """(held-out index, training index, exact) for every held-out text repeating a training text: exactly, once
    normalised, or nearly."""
    exact = {text: i for i, text in reversed(list(enumerate(train)))}
    normal = {normalised_text(text): i for i, text in reversed(list(enumerate(train)))}
    lsh, kept = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS), dict(enumerate(signatures(train)))
    for i, signature in kept.items():
        lsh.insert(i, signature)
    found = []
    for i, (text, signature) in enumerate(zip(held_out, signatures(held_out), strict=True)):
        if text in exact:
            found.append((i, exact[text], True))
            continue
        match = normal.get(normalised_text(text))
        if match is None:
            match = _closest(signature, lsh, kept, threshold)
        if match is not None:
            found.append((i, match, False))
    return found
