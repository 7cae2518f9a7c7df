"""The built-in language-model data: nothing is downloaded.

- `routing`: an instruction set millrace writes from its own `reviews` messages (composed from templates with a
  fixed seed; millrace/sources/builtin_reviews.py): route each customer message to billing, delivery, quality
  or support, answering with the team's name only. Synthetic, so a demonstration of fine-tuning whose answers
  can be checked, not evidence about real customer mail.
- `python_docs`: a real text corpus that ships with CPython, the reference documentation's topics (the text
  `help()` shows, in `pydoc_data.topics`), one document per topic, for continued pretraining.
"""

from __future__ import annotations

import pandas as pd

ROUTING_INSTRUCTION = (
    "Route this customer message to one team: billing, delivery, quality or support. Answer with the team's name only."
)


def routing() -> pd.DataFrame:
    from millrace.sources.builtin_reviews import messages

    reviews = messages()
    return pd.DataFrame({"instruction": ROUTING_INSTRUCTION, "input": reviews["text"], "output": reviews["topic"]})


def python_docs() -> pd.DataFrame:
    from pydoc_data.topics import topics

    return pd.DataFrame({"topic": list(topics), "text": [text.strip() for text in topics.values()]})
