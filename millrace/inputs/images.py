"""Image encoding shared by acquire, train, evaluate, deploy and serve: PNG/JPEG bytes → a float tensor.

An image column holds the encoded file's bytes (Parquet `binary`); a record sent to the server may
carry them base64-encoded instead. The plan fixes the square size, the channels and the training
split's mean and std, so every stage sees the same pixels. Needs Pillow and numpy, not torch.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from millrace.inputs.feature_error import FeatureError


def png_bytes(pixels: np.ndarray) -> bytes:
    """A greyscale (H×W) or RGB (H×W×3) uint8 array as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def open_image(data: bytes | str):
    """A decoded PIL image from raw or base64 bytes; a ValueError says why it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(data, str):
        try:
            data = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise ValueError("not base64-encoded image bytes") from None
    if not isinstance(data, bytes | bytearray):
        raise ValueError(f"expected image bytes, got {type(data).__name__}")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({exc})") from None
    return image


def is_binary(series: pd.Series) -> bool:
    """A column of raw bytes (encoded images), never to be treated as text."""
    values = series.dropna()
    return bool(len(values)) and isinstance(values.iloc[0], bytes | bytearray)


def image_column(frame: pd.DataFrame, columns: list[str]) -> str | None:
    """The feature column that holds image bytes, if any."""
    return next((column for column in columns if is_binary(frame[column])), None)


@dataclass(frozen=True)
class ImagePlan:
    column: str
    size: int
    channels: int
    mean: float
    std: float

    kind = "image"
    input_names = ("images",)

    def pixels(self, frame: pd.DataFrame) -> np.ndarray:
        """Decoded, resized pixels scaled to [0, 1]: N × C × size × size float32."""
        from PIL import Image

        if self.column not in frame.columns:
            raise FeatureError(f"missing features: [{self.column!r}]")
        mode = "L" if self.channels == 1 else "RGB"
        out = np.empty((len(frame), self.channels, self.size, self.size), np.float32)
        for row, value in enumerate(frame[self.column]):
            try:
                image = open_image(value)
            except ValueError as exc:
                raise FeatureError(f"feature {self.column!r}: {exc} (row {row})", row=row) from None
            image = image.convert(mode)
            if image.size != (self.size, self.size):
                image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
            array = np.asarray(image, np.float32) / 255.0
            out[row] = array[None] if self.channels == 1 else array.transpose(2, 0, 1)
        return out

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {"images": (self.pixels(frame) - self.mean) / self.std}

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    def describe(self) -> dict[str, Any]:
        return {"image_column": self.column, "shape": [self.channels, self.size, self.size]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImagePlan:
        return cls(**{k: v for k, v in data.items() if k != "kind"})


def fit(frame: pd.DataFrame, column: str, size: int | None, channels: int | None) -> ImagePlan:
    """Size and channels from params or the training images; mean and std from their pixels."""
    images = [open_image(value) for value in frame[column]]
    if size is None:
        size = max(Counter(image.size for image in images).most_common(1)[0][0])
    if channels is None:
        channels = 1 if all(image.mode in ("L", "1", "I;16") for image in images) else 3
    plan = ImagePlan(column=column, size=int(size), channels=int(channels), mean=0.0, std=1.0)
    pixels = plan.pixels(frame)
    std = float(pixels.std())
    return ImagePlan(column, plan.size, plan.channels, float(pixels.mean()), std if std > 0 else 1.0)
