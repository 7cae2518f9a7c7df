"""Row ids: sixteen hex digits of a hash of the values, which follow the values, not the position."""

import numpy as np
import pandas as pd

from millrace.labelling.row_ids import hex_digits, row_hash_ids


def test_hex_digits_are_the_hashes_in_sixteen_hex_digits():
    hashes = np.array([0, 1, 0xABC, 2**63, 2**64 - 1], dtype=np.uint64)
    hashes = np.concatenate([hashes, np.random.default_rng(0).integers(0, 2**64 - 1, 1000, dtype=np.uint64)])
    assert hex_digits(hashes).to_pylist() == [f"{h:016x}" for h in hashes]
    assert hex_digits(np.array([], dtype=np.uint64)).to_pylist() == []


def test_row_ids_follow_the_values_not_the_position():
    frame = pd.DataFrame({"text": ["a", "b", "a"], "n": [1, 2, 1]}, index=[7, 8, 9])
    ids = row_hash_ids(frame)
    assert ids.index.tolist() == [7, 8, 9] and isinstance(ids.dtype, pd.StringDtype)
    assert ids[7] == ids[9] != ids[8]
    assert row_hash_ids(frame.iloc[::-1])[8] == ids[8]
    expected = [f"{h:016x}" for h in pd.util.hash_pandas_object(frame, index=False)]
    assert ids.tolist() == expected
