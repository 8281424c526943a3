"""Issue 11's static-word-vector experiment: can e5's columns be replaced by e5 word vectors?

The Model2Vec idea: embed each word of the training texts once, alone, with e5; a listing's
embedding is then the weighted mean of its words' vectors, a sparse x dense product costing
microseconds instead of e5's ~100 CPU-ms per listing. Words unseen in training are dropped (as
the word TF-IDF drops them); a text without a known word embeds to zeros.

    python -m scripts.static_word_vectors --data ../shared/data/rakuten --e5-max-chars 160 \
        --variants none e5:2 st:0.6:tfidf st:0.6:sif st:0.6:uniform st:2:tfidf:raw

A variant is KIND[:WEIGHT[:WEIGHTING[:raw]]]: `none` (TF-IDF alone), `e5` (TF-IDF + e5, the
default profile), `st` (TF-IDF + static vectors), `e5only` and `stonly` (the embedding
alone); WEIGHT scales the embedding block as `e5_weight` does; WEIGHTING is tfidf, sif or
uniform; `raw` leaves e5's common direction in (the vectors are centred otherwise).

Each variant is scored on scripts.cv's outer folds (text rows), with one SVM per fold over the
default profile's TF-IDF blocks, fitted on the fold's training rows only (its vocabulary and
weights too). This screens variants against each other; it is not `scripts.cv`'s calibrated
procedure. The word vectors depend on the word alone, so they are computed once for every word
of the data and cached under `.work/wordvec/`, keyed by the vocabulary.

Result on the dev data (2026-12-03): the best static variant recovers ~0.005 of e5's +0.027
top-1 over TF-IDF alone; see the README's profiles section.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.svm import LinearSVC

from prodcat.model import Hyperparameters, TextHead
from prodcat.text_encoder import E5_DIM, embed_texts
from prodcat.training import _folds
from scripts.cv import cached_training_set

SIF_A = 1e-3  # SIF's smoothing (Arora et al. 2017): a word of frequency p weighs a / (a + p)
Embed = Callable[[Sequence[str]], np.ndarray]


class WordVectors:
    """Word -> e5 vector table, weights folded in; `transform` gives (N, E5_DIM) unit rows."""

    def __init__(self, weighting: str = "tfidf", centre: bool = True) -> None:
        self.weighting, self.centre = weighting, centre
        self.counter = CountVectorizer(dtype=np.float32)  # the word TF-IDF's own tokens

    def fit(self, texts: list[str], embed: Embed) -> WordVectors:
        counts = self.counter.fit_transform(texts)
        words = list(self.counter.get_feature_names_out())
        if self.weighting == "tfidf":  # smooth idf, as TfidfVectorizer's
            df = np.bincount(counts.indices, minlength=len(words))
            weight = np.log((1 + counts.shape[0]) / (1 + df)) + 1
        elif self.weighting == "sif":
            freq = np.asarray(counts.sum(axis=0)).ravel()
            weight = SIF_A / (SIF_A + freq / freq.sum())
        else:
            weight = np.ones(len(words))
        vectors = embed(words).astype(np.float64)
        # Any two e5 vectors have cosine ~0.7-0.8: a mean of words is mostly that common
        # direction unless it is removed (centring alone: 0.467 -> 0.594 top-1 as the only feature).
        if self.centre:
            vectors -= vectors.mean(axis=0)
        self.vectors = (vectors * weight[:, None]).astype(np.float32)
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        counts = self.counter.transform(texts)
        # sublinear tf for tfidf (as the TF-IDF blocks), each distinct word once otherwise
        if self.weighting == "tfidf":
            counts.data = 1 + np.log(counts.data)
        else:
            counts.data = np.ones_like(counts.data)
        out = np.asarray(counts @ self.vectors, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)


def word_store(texts: list[str], cache_dir: Path) -> Embed:
    """e5 vectors of every word of `texts`, computed once (batches of 256) and cached."""
    words = sorted(CountVectorizer().fit(texts).vocabulary_)
    path = cache_dir / f"{hashlib.sha256(chr(10).join(words).encode()).hexdigest()[:16]}.npz"
    if not path.is_file():
        cpu = time.process_time()
        vectors = np.zeros((len(words), E5_DIM), dtype=np.float32)
        for start in range(0, len(words), 256):
            vectors[start : start + 256] = embed_texts(words[start : start + 256])
        cpu = time.process_time() - cpu
        print(
            f"embedded {len(words)} words: {cpu:.0f} CPU-s ({1000 * cpu / len(words):.1f} ms each)"
        )
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, words=np.array(words), vectors=vectors)
    store = np.load(path)
    lookup = dict(zip(store["words"], store["vectors"], strict=True))
    return lambda ws: np.stack([lookup[w] for w in ws])


def screen(
    data_dir: Path, cache: Path, variants: list[str], folds: int, e5_max_chars: int
) -> dict[str, list[float]]:
    data = cached_training_set(data_dir, cache / "cv", Hyperparameters(e5_max_chars=e5_max_chars))
    rows = data.text_rows
    texts, y, e5 = [data.texts[i] for i in rows], data.y[rows], data.embeddings[rows]
    embed = word_store(texts, cache / "wordvec")
    where = {r: i for i, r in enumerate(rows)}
    result: dict[str, list[float]] = {v: [] for v in variants}
    for outer_train, outer_test in _folds(data.y, folds, Hyperparameters().seed + 1000):
        tr = np.array([where[r] for r in outer_train if r in where])
        te = np.array([where[r] for r in outer_test if r in where])
        head = TextHead(Hyperparameters(e5_weight=0))
        ttr, tte = [texts[i] for i in tr], [texts[i] for i in te]
        tfidf = (head.features(ttr, e5[tr], fit=True), head.features(tte, e5[te]))
        fitted: dict[tuple[str, bool], WordVectors] = {}
        for variant in variants:
            kind, *rest = variant.split(":")
            w = float(rest[0]) if rest else 2.0
            if kind in ("none", "e5", "e5only"):
                dense = (e5[tr], e5[te])
            else:
                key = (rest[1] if len(rest) > 1 else "tfidf", "raw" not in rest)
                if key not in fitted:
                    fitted[key] = WordVectors(*key).fit(ttr, embed)
                dense = (fitted[key].transform(ttr), fitted[key].transform(tte))
            x = [csr_matrix(d * w) for d in dense]
            if kind == "none":
                x = list(tfidf)
            elif kind in ("e5", "st"):
                x = [hstack([t, d]).tocsr() for t, d in zip(tfidf, x, strict=True)]
            svm = LinearSVC(C=Hyperparameters().text_c, random_state=0).fit(x[0], y[tr])
            result[variant].append(round(float(np.mean(svm.predict(x[1]) == y[te])), 3))
        print(json.dumps({v: r[-1] for v, r in result.items()}), flush=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--cache", type=Path, default=Path(".work"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["none", "e5:2", "st:0.6:tfidf"])
    # The README's figures: 160, e5's default when they were measured.
    parser.add_argument("--e5-max-chars", type=int, default=Hyperparameters().e5_max_chars)
    args = parser.parse_args(argv)
    result = screen(args.data, args.cache, args.variants, args.folds, args.e5_max_chars)
    for variant, accuracy in result.items():
        print(f"{variant:18s} top-1 {np.mean(accuracy):.4f}  folds {accuracy}")


if __name__ == "__main__":
    main()
