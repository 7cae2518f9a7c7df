"""The built-in datasets: they ship inside installed packages (palmerpenguins, scikit-learn, CPython's own
documentation, millrace's own text examples), so nothing is downloaded."""

from __future__ import annotations

import pandas as pd


def load_builtin(name: str) -> pd.DataFrame:
    """A dataset that ships inside an installed package: nothing is downloaded."""
    if name == "penguins":
        import palmerpenguins

        return palmerpenguins.load_penguins()
    if name == "reviews":
        from millrace.sources.builtin_reviews import messages

        return messages()
    if name in ("routing", "python_docs"):  # a language model's: millrace/sources/builtin_language.py
        from millrace.sources import builtin_language

        return getattr(builtin_language, name)()
    from sklearn import datasets

    if name == "digits":  # 8×8 greyscale images, kept as images (PNG bytes), not 64 loose columns
        import numpy as np

        from millrace.inputs.images import png_bytes

        bunch = datasets.load_digits()
        pixels = np.round(bunch.images * (255 / 16)).astype(np.uint8)
        return pd.DataFrame({"image": [png_bytes(p) for p in pixels], "target": bunch.target.astype(str)})

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    if name != "diabetes":  # classification: readable class names instead of bare integers
        frame["target"] = pd.Series(bunch.target_names[bunch.target], dtype="str")
    return frame
