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
per fold did not predict. (Its `default` is the SVM without class weights, its `balanced` the
head since `text_class_weight=balanced`.)

`--heads [--families nbsvm,nbmix,scores,features,svm,lengths]` scores, the same shipped way,
other heads and features against `default`, the hyperparameters' own head (`shipped_heads`):
NB-SVM alone or mixed with the SVM, heads summed at the score level, TF-IDF settings, the SVM's
loss and the title's weight, and length columns.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, diags, hstack
from sklearn.feature_extraction.text import TfidfVectorizer, strip_accents_unicode
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from prodcat.model import Hyperparameters, TextHead, title_of
from prodcat.text_encoder import E5_LAYERS, embed_texts
from prodcat.training import TrainingSet, _folds
from prodcat_contracts.text import listing_title
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
        "--heads",
        action="store_true",
        help="score other heads and features as training ships them (inner folds' average): "
        "NB-SVM, heads summed at the score level, TF-IDF settings (`shipped_heads`)",
    )
    parser.add_argument(
        "--families", default=",".join(FAMILIES), help="with --heads: which variants"
    )
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
    if args.heads:
        report(shipped_heads(data, hp, tuple(args.families.split(","))))
        return
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


_DIGIT = re.compile(r"\d")


def _digits_as_zero(text: str) -> str:
    return _DIGIT.sub("0", text.lower())


def _title_digits_as_zero(text: str) -> str:
    return _DIGIT.sub("0", title_of(text))


def _accents_stripped(text: str) -> str:
    return strip_accents_unicode(text.lower())


def _title_accents_stripped(text: str) -> str:
    return strip_accents_unicode(title_of(text))


def _title_words() -> TfidfVectorizer:
    return TfidfVectorizer(
        sublinear_tf=True, ngram_range=(1, 2), preprocessor=title_of, dtype=np.float32
    )


# TF-IDF settings the head does not use yet, as `FeatureUnion.set_params` arguments (or a
# callable that changes the head), each against the shipped head.
FEATURE_VARIANTS: dict[str, Any] = {
    "binary words": {"words__binary": True},
    "binary all blocks": {"words__binary": True, "chars__binary": True, "title__binary": True},
    "accents stripped": {
        "words__preprocessor": _accents_stripped,
        "chars__preprocessor": _accents_stripped,
        "title__preprocessor": _title_accents_stripped,
    },
    "digits as 0": {
        "words__preprocessor": _digits_as_zero,
        "chars__preprocessor": _digits_as_zero,
        "title__preprocessor": _title_digits_as_zero,
    },
    "words min_df 2": {"words__min_df": 2},
    "words max_df 0.3": {"words__max_df": 0.3},
    "chars across words": {"chars__analyzer": "char"},
    "title words 1-2 w1": ("title_words", 1.0),
    "title words 1-2 w0.5": ("title_words", 0.5),
}


def _inner_mean(fit_score: Any, xa: Any, ya: np.ndarray, xb: Any, inner: Any) -> np.ndarray:
    """The mean of one model per inner fold's held-out scores on `xb`: the shipped head's
    scores (the fold models' average) for a linear model."""
    return np.mean([fit_score(xa[tr], ya[tr], xb) for tr, _ in inner], axis=0)


def _svm(n_classes: int, c: float) -> Any:
    def fit_score(xa: Any, ya: np.ndarray, xb: Any) -> np.ndarray:
        svm = LinearSVC(C=c, class_weight="balanced", random_state=0).fit(xa, ya)
        out = np.full((xb.shape[0], n_classes), -10.0)
        out[:, svm.classes_] = svm.decision_function(xb)
        return out

    return fit_score


def _nbsvm(n_classes: int, n_sparse: int, c: float, alpha: float = 1.0) -> Any:
    """NB-SVM (Wang & Manning 2012), one-vs-rest: class c's SVM reads the TF-IDF columns scaled
    by their log-count ratio r_c (binarised counts, smoothing `alpha`), the e5 columns as they
    are; weighted as LinearSVC's balanced one-vs-rest weighs (positives n / (k n_c), negatives 1).
    Foldable into one linear model (w_c * r_c), so it would cost nothing at request time."""

    def fit_score(xa: Any, ya: np.ndarray, xb: Any) -> np.ndarray:
        xa, xb = csr_matrix(xa), csr_matrix(xb)
        seen = (xa[:, :n_sparse] > 0).astype(np.float64)
        classes = np.unique(ya)
        out = np.full((xb.shape[0], n_classes), -10.0)
        n_dense = xa.shape[1] - n_sparse
        for cls in classes:
            pos = ya == cls
            p = alpha + np.asarray(seen[pos].sum(axis=0)).ravel()
            q = alpha + np.asarray(seen[~pos].sum(axis=0)).ravel()
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            scale = diags(np.concatenate([r, np.ones(n_dense)]))
            weight = len(ya) / (len(classes) * pos.sum())
            svm = LinearSVC(C=c, class_weight={1: weight, 0: 1.0}, random_state=0)
            svm.fit(xa @ scale, pos.astype(int))
            out[:, cls] = svm.decision_function(xb @ scale)
        return out

    return fit_score


def _logreg(n_classes: int, c: float) -> Any:
    def fit_score(xa: Any, ya: np.ndarray, xb: Any) -> np.ndarray:
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(xa, ya)
        out = np.full((xb.shape[0], n_classes), -10.0)
        out[:, lr.classes_] = lr.decision_function(xb)
        return out - out.max(axis=1, keepdims=True)  # a per-row shift changes no ranking

    return fit_score


def _cnb(n_classes: int, alpha: float) -> Any:
    def fit_score(xa: Any, ya: np.ndarray, xb: Any) -> np.ndarray:
        nb = ComplementNB(alpha=alpha).fit(xa, ya)
        out = np.full((xb.shape[0], n_classes), np.log(1e-12))
        out[:, nb.classes_] = nb.predict_log_proba(xb)
        return out

    return fit_score


def length_features(texts: list[str]) -> np.ndarray:
    """Whether a listing has a description, and its description's and title's lengths (log,
    about 0-1): used books mostly have none (13% of the dev data's), new books mostly do (64%),
    which the rows' L2-normalised TF-IDF cannot tell."""
    out = np.zeros((len(texts), 3), dtype=np.float32)
    for i, text in enumerate(texts):
        title = listing_title(text)
        body = text[len(title) + 3 :]
        out[i] = (bool(body), np.log1p(len(body)) / np.log1p(5000), np.log1p(len(title)) / 6)
    return out


FAMILIES = ("nbsvm", "nbmix", "scores", "features", "svm", "lengths")


def shipped_heads(
    data: TrainingSet, hp: Hyperparameters, families: tuple[str, ...] = FAMILIES
) -> dict[str, list[tuple[float, float]]]:
    """Per outer fold, the shipped head's ranking (`default`, the hyperparameters' TextHead as
    `fit_folds` ships it) against heads and features it does not use: NB-SVM, its mean with the
    SVM, logistic regression on e5 alone or Complement NB on the words added at the score level,
    and TF-IDF settings (`FEATURE_VARIANTS`). Each is the inner folds' mean, as training ships."""
    y, emb, n_classes = data.y, data.embeddings, len(data.taxonomy)
    scores: dict[str, list[tuple[float, float]]] = {}
    for fold, (train, test) in enumerate(_folds(y, 5, hp.seed + 1000)):
        started = time.perf_counter()
        texts = [data.texts[i] for i in train]
        test_texts = [data.texts[i] for i in test]
        ya, inner = y[train], _folds(y[train], hp.folds, hp.seed)
        head = TextHead(hp)
        head.fit_folds(texts, emb[train], ya, inner, n_classes)
        default = head.logits(test_texts, emb[test], n_classes)
        variants = {"default": default}
        # The TF-IDF blocks alone, and with e5 as the head weighs it.
        no_e5 = np.zeros((len(y), 0))
        xa = head.features(texts, no_e5[train])
        xb = head.features(test_texts, no_e5[test])
        n_sparse = xa.shape[1]
        xa_e5 = hstack([xa, csr_matrix(emb[train] * hp.e5_weight)]).tocsr()
        xb_e5 = hstack([xb, csr_matrix(emb[test] * hp.e5_weight)]).tocsr()
        if "nbsvm" in families:
            for c in (0.05, 0.1, 0.3):
                nb = _inner_mean(_nbsvm(n_classes, n_sparse, c), xa_e5, ya, xb_e5, inner)
                variants[f"NB-SVM C {c}"] = nb
                variants[f"(default + NB-SVM C {c}) / 2"] = (default + nb) / 2
        if "nbmix" in families:  # NB-SVM's share in a weighted mean with the shipped SVM
            for c in (0.1, 0.3):
                nb = _inner_mean(_nbsvm(n_classes, n_sparse, c), xa_e5, ya, xb_e5, inner)
                for share in (0.1, 0.2, 0.3, 0.4):
                    variants[f"default + {share} NB-SVM C {c}"] = (1 - share) * default + share * nb
        if "scores" in families:
            tfidf_svm = _inner_mean(_svm(n_classes, hp.text_c), xa, ya, xb, inner)
            variants["SVM on TF-IDF alone"] = tfidf_svm
            for c in (1.0, 10.0):
                lr = _inner_mean(_logreg(n_classes, c), emb[train], ya, emb[test], inner)
                variants[f"LR on e5 C {c} alone"] = lr
                for w in (0.05, 0.1, 0.2):
                    variants[f"SVM on TF-IDF + {w} LR on e5 C {c}"] = tfidf_svm + w * lr
                    variants[f"default + {w} LR on e5 C {c}"] = default + w * lr
            n_words = len(head.vectorizer.transformer_list[0][1].vocabulary_)
            xa_w, xb_w = xa[:, :n_words], xb[:, :n_words]
            for alpha in (0.3, 1.0):
                nb = _inner_mean(_cnb(n_classes, alpha), xa_w, ya, xb_w, inner)
                variants[f"CNB words a {alpha} alone"] = nb
                for w in (0.02, 0.05, 0.1):
                    variants[f"default + {w} CNB words a {alpha}"] = default + w * nb
        for name, change in FEATURE_VARIANTS.items() if "features" in families else ():
            other = TextHead(hp)
            if isinstance(change, dict):
                other.vectorizer.set_params(**change)
            else:
                other.vectorizer.transformer_list.append(("title_words", _title_words()))
                other.vectorizer.transformer_weights = {
                    **(other.vectorizer.transformer_weights or {}),
                    "title_words": change[1],
                }
            other.fit_folds(texts, emb[train], ya, inner, n_classes)
            variants[name] = other.logits(test_texts, emb[test], n_classes)
        # The SVM's loss and multi-class scheme, and the title block's weight.
        others: dict[str, Any] = {
            "hinge loss": (hp, {"loss": "hinge"}),
            "Crammer-Singer": (hp, {"multi_class": "crammer_singer"}),
            "title weight 1.5": (dataclasses.replace(hp, title_weight=1.5), {}),
            "title weight 2": (dataclasses.replace(hp, title_weight=2.0), {}),
        }
        for name, (hp2, params) in others.items() if "svm" in families else ():
            other = TextHead(hp2)
            other.classifier.set_params(**params)
            other.fit_folds(texts, emb[train], ya, inner, n_classes)
            variants[name] = other.logits(test_texts, emb[test], n_classes)
        # Length columns beside e5 (the head scales its embedding columns by e5_weight).
        for w in (0.25, 0.5, 1.0) if "lengths" in families else ():
            cols = np.hstack([emb, length_features(data.texts) * w / hp.e5_weight])
            other = TextHead(hp)
            other.fit_folds(texts, cols[train], ya, inner, n_classes)
            variants[f"length columns w {w}"] = other.logits(test_texts, cols[test], n_classes)
        for name, s in variants.items():
            scores.setdefault(name, []).append(top_k(s, y[test]))
        print(f"fold {fold}: {time.perf_counter() - started:.0f} s", flush=True)
        report(scores)
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
