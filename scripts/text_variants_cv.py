"""Screen text-head variants: top-1 and top-3 of one SVM per outer fold of `scripts.cv --text-only`
(same folds), over the default TextHead's features, each variant against the default's SVM.

Uncalibrated and without the inner folds, so compare its figures only among themselves. Variants:
class_weight="balanced", a second e5 read (the title's own embedding, same prefix and length,
beside the text's), and a kNN vote (the k nearest training rows, softmax(similarity / tau)
weights) added to the SVM's scores at a share, its neighbours found by e5's cosine, by the mean
of the text's and the title's e5 cosine, by the TF-IDF blocks' cosine, or by e5's and TF-IDF's.
(The e5 block's weight and the SVM's C were screened by an earlier version: README.)

    python -m scripts.text_variants_cv [--e5-prefix query] [--shipped] [--hp NAME=VALUE ...]

`--e5-prefix query` embeds with e5's "query: " prefix instead of the model's "passage: " (cached
beside `scripts.cv`'s embeddings). `--shipped` scores the kNN vote on the SVM that training ships
(the inner folds' average, `TextHead.fit_folds`) over all of the outer fold's training rows: the
very ranking `scripts.cv` scores (its temperature and top-1 map keep the order), which one SVM
per fold did not predict.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from prodcat.model import Hyperparameters, TextHead
from prodcat.text_encoder import E5_LAYERS, embed_texts
from prodcat.training import TrainingSet, _folds
from scripts.cv import _data_key, cached_training_set


def embeddings(args: argparse.Namespace, hp: Hyperparameters) -> TrainingSet:
    """The data with the e5 embeddings `hp` says, after `args.e5_prefix` (cached per prefix)."""
    data = cached_training_set(args.data, args.cache, hp)
    if args.e5_prefix == "passage" or not hp.uses_e5:
        return data
    layers = f"-layers{hp.e5_layers}" if hp.e5_layers != E5_LAYERS else ""
    name = f"{_data_key(args.data)}-e5-{hp.e5_reads}-{hp.e5_max_chars}{layers}-{args.e5_prefix}"
    path = args.cache / f"{name}.npy"
    if path.is_file():
        data.embeddings = np.load(path)
    else:
        data.embeddings = embed_texts(
            data.texts, hp.e5_max_chars, hp.e5_reads, hp.e5_layers, args.e5_prefix
        )
        np.save(path, data.embeddings)
    return data


def knn_votes(
    sim: np.ndarray, y_train: np.ndarray, k: int, n_classes: int, tau: float = 0.05
) -> np.ndarray:
    """Each row's class shares among its k most similar training rows."""
    nearest = np.argsort(-sim, axis=1, kind="stable")[:, :k]  # ties: the earlier row
    votes = np.zeros((len(sim), n_classes))
    for r, idx in enumerate(nearest):
        np.add.at(votes[r], y_train[idx], np.exp((sim[r, idx] - sim[r, idx].max()) / tau))
    return votes / votes.sum(axis=1, keepdims=True)


def top_k(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    order = np.argsort(-scores, axis=1)
    return float(np.mean(order[:, 0] == y)), float(np.mean((order[:, :3] == y[:, None]).any(1)))


def svm_scores(
    x: tuple[Any, Any],
    emb: tuple[np.ndarray, np.ndarray],
    y: np.ndarray,
    n_classes: int,
    e5_weight: float,
    c: float,
    **kw: Any,
) -> np.ndarray:
    """Held-out scores of one SVM on the TF-IDF blocks `x` (train, test) and e5 at `e5_weight`."""
    train, test = (
        hstack([t, csr_matrix(e * e5_weight)]).tocsr() for t, e in zip(x, emb, strict=True)
    )
    model = LinearSVC(C=c, random_state=0, **kw).fit(train, y)
    out = np.full((test.shape[0], n_classes), -10.0)
    out[:, model.classes_] = model.decision_function(test)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--cache", type=Path, default=Path(".work/cv"))
    parser.add_argument("--hp", action="append", default=[], help="NAME=VALUE, repeatable")
    parser.add_argument("--e5-prefix", choices=("passage", "query"), default="passage")
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="score the kNN vote on the SVM training ships (the inner folds' average) rather "
        "than on one SVM: the ranking `scripts.cv` scores",
    )
    args = parser.parse_args(argv)
    hp = Hyperparameters.from_json(dict(kv.split("=", 1) for kv in args.hp))
    data = embeddings(args, hp)
    data_rows = data.text_rows
    data = data.subset(data_rows)
    if args.shipped:
        report(shipped_votes(data, hp))
        return
    y, emb, n_classes = data.y, data.embeddings, len(data.taxonomy)
    # A second e5 read: the title's own embedding (same prefix and length), beside the text's.
    title_emb = embeddings(args, dataclasses.replace(hp, e5_reads="title")).embeddings[data_rows]
    scores: dict[str, list[tuple[float, float]]] = {}
    for train, test in _folds(y, 5, hp.seed + 1000):
        # The TF-IDF blocks alone (no e5 columns): each variant adds e5 at its own weight.
        head, no_e5 = TextHead(hp), np.zeros((len(y), 0))
        x = (
            head.features([data.texts[i] for i in train], no_e5[train], fit=True),
            head.features([data.texts[i] for i in test], no_e5[test]),
        )
        e = (emb[train], emb[test])
        both = (np.hstack([emb[train], title_emb[train]]), np.hstack([emb[test], title_emb[test]]))
        w, c = hp.e5_weight, hp.text_c
        base = svm_scores(x, e, y[train], n_classes, w, c)
        bal = svm_scores(x, e, y[train], n_classes, w, c, class_weight="balanced")
        with_title = svm_scores(x, both, y[train], n_classes, w, c)
        variants = {
            "default": base,
            "balanced": bal,
            "title e5 beside": with_title,
        }
        sim = emb[test] @ emb[train].T
        # Each listing's two reads: the mean of the text's and the title's similarity.
        sim2 = (sim + title_emb[test] @ title_emb[train].T) / 2
        sim_tfidf = (normalize(x[1]) @ normalize(x[0]).T).toarray()
        for k in (5, 10, 20, 30):
            votes = knn_votes(sim, y[train], k, n_classes)
            variants[f"kNN{k} alone"] = votes
            for share in (0.15, 0.25, 0.4, 0.6):
                variants[f"default + {share} kNN{k}"] = base + share * votes
            if k in (10, 20):
                for share in (0.25, 0.4):
                    variants[f"balanced + {share} kNN{k}"] = bal + share * votes
                    variants[f"title e5 beside + {share} kNN{k}"] = with_title + share * votes
                    votes2 = knn_votes(sim2, y[train], k, n_classes)
                    variants[f"default + {share} kNN{k} text+title sim"] = base + share * votes2
                for tau in (0.02, 0.1):
                    votes_t = knn_votes(sim, y[train], k, n_classes, tau)
                    variants[f"default + 0.25 kNN{k} tau {tau}"] = base + 0.25 * votes_t
                # Neighbours by the TF-IDF blocks' cosine instead of e5's, or by both's mean.
                votes_w = knn_votes(sim_tfidf, y[train], k, n_classes)
                votes_m = knn_votes((sim + sim_tfidf) / 2, y[train], k, n_classes)
                for share in (0.25, 0.5):
                    variants[f"default + {share} kNN{k} tf-idf sim"] = base + share * votes_w
                    variants[f"default + {share} kNN{k} e5+tf-idf sim"] = base + share * votes_m
        for name, s in variants.items():
            scores.setdefault(name, []).append(top_k(s, y[test]))
    report(scores)


def shipped_votes(data: TrainingSet, hp: Hyperparameters) -> dict[str, list[tuple[float, float]]]:
    """Per outer fold, the shipped head's ranking (temperature and top-1 map keep the order):
    the inner folds' average SVM, plain or class-balanced, plus the vote among all training rows."""
    y, emb, n_classes = data.y, data.embeddings, len(data.taxonomy)
    scores: dict[str, list[tuple[float, float]]] = {}
    for train, test in _folds(y, 5, hp.seed + 1000):
        texts = [data.texts[i] for i in train]
        test_texts = [data.texts[i] for i in test]
        inner = _folds(y[train], hp.folds, hp.seed)
        bases = {}
        for name, weight in (("default", None), ("balanced", "balanced")):
            head = TextHead(hp)
            head.classifier.set_params(class_weight=weight)
            head.fit_folds(texts, emb[train], y[train], inner, n_classes)
            bases[name] = head.logits(test_texts, emb[test], n_classes)
        variants = dict(bases)
        for k in (10, 20):
            votes = knn_votes(emb[test] @ emb[train].T, y[train], k, n_classes)
            for share in (0.1, 0.15, 0.25, 0.4, 0.6):
                for name, base in bases.items():
                    variants[f"{name} + {share} kNN{k}"] = base + share * votes
        for name, s in variants.items():
            scores.setdefault(name, []).append(top_k(s, y[test]))
    return scores


def report(scores: dict[str, list[tuple[float, float]]]) -> None:
    default = np.array(scores["default"])
    for name, per_fold in scores.items():
        a = np.array(per_fold)
        d1, d3 = (" ".join(f"{d:+.3f}" for d in a[:, j] - default[:, j]) for j in (0, 1))
        print(
            f"{name}: top-1 {a[:, 0].mean():.4f} top-3 {a[:, 1].mean():.4f}; per fold vs default:"
        )
        print(f"  top-1 {d1}; top-3 {d3}", flush=True)


if __name__ == "__main__":
    main()
