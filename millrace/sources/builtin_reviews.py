"""The built-in text example: customer messages labelled by topic, written by millrace itself.

Nothing is downloaded: the messages are composed from templates and vocabularies below with a
fixed seed, so every machine gets the same 800 rows (200 per topic). About one message in six
also mentions a second topic in passing, so a keyword rule alone does not solve it, and a
majority-class guess scores 0.25.
"""

from __future__ import annotations

import random

import pandas as pd

TOPICS: dict[str, dict[str, list[str]]] = {
    "billing": {
        "clauses": [
            "I was charged {n} times for the same {thing}",
            "the invoice shows a {fee} I never agreed to",
            "my refund of {amount} still has not arrived",
            "you billed my card after I cancelled the {plan}",
            "the price on the receipt is higher than the one advertised",
            "please explain the {fee} on this month's statement",
            "my payment failed but the money left my account",
            "I need a corrected invoice for my company",
        ],
        "fee": ["late fee", "service charge", "renewal fee", "handling fee", "currency surcharge"],
        "thing": ["order", "subscription", "purchase", "booking"],
        "plan": ["subscription", "premium plan", "annual plan", "trial"],
    },
    "delivery": {
        "clauses": [
            "the parcel was supposed to arrive {when} and it is still not here",
            "the courier left my package at the wrong {place}",
            "tracking has not updated for {n} days",
            "the box arrived crushed and soaking wet",
            "the driver never rang the bell and marked it as delivered",
            "my order was sent to my old {place}",
            "can you change the delivery slot to {when}",
            "half of the items were missing from the shipment",
        ],
        "when": ["on Monday", "yesterday", "last week", "before the weekend", "this morning"],
        "place": ["address", "door", "neighbour", "building", "pickup point"],
    },
    "quality": {
        "clauses": [
            "the {part} stopped working after {n} days",
            "the {part} makes a loud rattling noise",
            "the stitching on the {part} came apart",
            "the colour faded after the first wash",
            "the {part} cracked the first time I used it",
            "it overheats and smells of burning plastic",
            "the {part} is much smaller than the photos suggest",
            "the battery drains completely overnight",
        ],
        "part": ["zip", "handle", "screen", "charger", "strap", "lid", "motor", "button"],
    },
    "support": {
        "clauses": [
            "nobody from your team has answered my {channel} in {n} days",
            "the agent on the {channel} was rude and hung up",
            "I was transferred {n} times and nobody could help",
            "your help page links to a form that does not load",
            "I want to speak to a manager about how my case was handled",
            "the chatbot keeps sending me in circles",
            "my ticket was closed without a reply",
            "please stop sending me the same automated answer",
        ],
        "channel": ["email", "phone line", "live chat", "ticket", "hotline"],
    },
}

OPENERS = ["Hello,", "Hi team,", "Good afternoon.", "To whom it may concern:", "Hey.", "Dear customer service,", ""]
CLOSERS = [
    "Please sort this out.",
    "Thanks in advance.",
    "This is really disappointing.",
    "I expect a reply soon.",
    "Regards.",
    "",
]
SLOTS = {"n": ["two", "three", "four", "five", "ten"], "amount": ["$20", "$45.90", "€12", "£60", "$130"]}


def _fill(template: str, vocabulary: dict[str, list[str]], rng: random.Random) -> str:
    slots = {**SLOTS, **{k: v for k, v in vocabulary.items() if k != "clauses"}}
    return template.format(**{name: rng.choice(values) for name, values in slots.items()})


def messages(per_topic: int = 200, seed: int = 7) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for topic, vocabulary in TOPICS.items():
        others = [t for t in TOPICS if t != topic]
        for _ in range(per_topic):
            parts = [rng.choice(OPENERS), _fill(rng.choice(vocabulary["clauses"]), vocabulary, rng).capitalize() + "."]
            if rng.random() < 0.17:
                other = TOPICS[rng.choice(others)]
                parts.append("Also, " + _fill(rng.choice(other["clauses"]), other, rng) + ", but that is minor.")
            parts.append(rng.choice(CLOSERS))
            rows.append({"text": " ".join(p for p in parts if p), "topic": topic})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
