"""Give freed memory back to the system, so a stage's peak is what it holds, not what it once held.

Two allocators keep what a stage frees. Arrow's default one (mimalloc) keeps freed pages for Arrow
alone: `prepare_process()` (millrace/environment.py) puts every stage's Arrow on the system allocator
(ARROW_DEFAULT_MEMORY_POOL, read at Arrow's first allocation, so it is set before pandas is
imported). glibc serves a block from its heap once it is below the mmap threshold, and raises that
threshold to the size of every large block freed (up to 32 MiB): after the first column-sized array
is freed, the next ones come from the heap, and a heap freed in the middle stays in the process.

`label` (the table, its splits and the review's features at once) fixes the threshold at 1 MiB: its
peak at 1e6 rows (82 MB in memory) 720 → 600–615 MB, level with acquire's and clean's, for ~0.25 s
of its ~8 s (every large block is mapped afresh). acquire and clean would save 50–60 MB for
0.15–0.45 s without lowering the pipeline's peak. Never in training: with a fixed threshold every
batch's activations are mapped afresh (a CPU epoch 1.06× as long at 4 MiB, 1.5× at 128 KiB).
Above 32 MiB glibc maps every block anyway: at 1e8 rows only the Arrow setting matters.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter; setting it also stops the dynamic adjustment
MMAP_THRESHOLD = 1024 * 1024  # a column of 131,072 float64s; smaller blocks stay on the heap


def return_freed_memory() -> bool:
    """Map (and on free unmap) every block of 1 MiB or more; True where the C library took it."""
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return bool(mallopt and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1)
