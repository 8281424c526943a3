"""K-fold cross-validation of the whole training procedure, per input mode.

Each outer fold trains exactly what `prodcat train` trains (inner folds for the temperatures
and the fusion included) on the other folds, then scores its held-out rows in each mode:
text only (rows with text), photo only (rows with a photo), text and photo (rows with both),
plus text alone on the rows that have both, so the fusion's gain is measured on the same rows.
Out-of-fold predictions are pooled before scoring.

    make cv                       # or: python -m scripts.cv --data DIR [--hp text_c=0.3 ...]

Photo features are cached under `.work/cv/` (keyed by the data files and the backbone), and e5
embeddings beside them per e5 setting (`e5_reads`, `e5_max_chars`, `e5_layers`), so repeated
runs and sweeps spend their time fitting, not encoding.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from prodcat.data import LoadReport
from prodcat.evaluation import Evaluation
from prodcat.image_encoder import REPRESENTATION, weights_sha256
from prodcat.metrics import calibrated_ece, classification_metrics, debiased_calibration_error
from prodcat.model import Hyperparameters
from prodcat.report import top_confusions, write_report
from prodcat.text_encoder import E5_LAYERS
from prodcat.training import TrainingSet, _folds, fit_heads, load_training_set

MODES = ("text_only", "image_only", "text_image", "text_only_on_text_image_rows")


def _data_key(data_dir: Path) -> str:
    # What the cached photo features depend on: the photo weights and representation, and the
    # data.
    h = hashlib.sha256(f"{weights_sha256()} {REPRESENTATION}".encode())
    for name in ("X_train.csv", "Y_train.csv", "images_only.csv", "categories.csv"):
        f = data_dir / name
        if f.is_file():
            h.update(name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def cached_training_set(data_dir: Path, cache_dir: Path, hp: Hyperparameters) -> TrainingSet:
    """The data with its photo features (cached per data) and the e5 embeddings `hp` reads
    (cached per data and e5 setting), so a sweep of what e5 reads never re-encodes a photo."""
    key = _data_key(data_dir)
    path = cache_dir / f"{key}.pkl"
    data: TrainingSet | None = None
    if path.is_file():
        try:
            with path.open("rb") as f:
                data = pickle.load(f)  # our own cache, written below
        except (ImportError, AttributeError, pickle.UnpicklingError, EOFError) as e:
            # Written by older code (a class has moved since): rebuild it rather than fail.
            print(f"cv: rebuilding the stale feature cache {path} ({e})", file=sys.stderr)
    if data is None:
        data, _, _ = load_training_set(data_dir, Hyperparameters(profile="fast"))
        cache_dir.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            pickle.dump(data, f)
    if hp.uses_e5:
        e5 = f"{hp.e5_reads}-{hp.e5_max_chars}"
        if hp.e5_layers != E5_LAYERS:
            e5 += f"-layers{hp.e5_layers}"
        e5_path = cache_dir / f"{key}-e5-{e5}.npy"
        if e5_path.is_file():
            data.embeddings = np.load(e5_path)
        else:
            started = time.process_time()
            data.embeddings = hp.embed(data.texts)
            cpu_ms = (time.process_time() - started) * 1000 / max(1, len(data.text_rows))
            print(f"cv: e5 cost {cpu_ms:.1f} CPU-ms per text listing", file=sys.stderr)
            np.save(e5_path, data.embeddings)
    return data


def _mode_inputs(
    data: TrainingSet, mode: str
) -> tuple[np.ndarray, list[str], list[np.ndarray | None]]:
    has_text = np.array([bool(t) for t in data.texts])
    has_photo = np.array([f is not None for f in data.photos])
    rows = {
        "text_only": has_text,
        "image_only": has_photo,
        "text_image": has_text & has_photo,
        "text_only_on_text_image_rows": has_text & has_photo,
    }[mode]
    idx = np.where(rows)[0]
    use_text, use_photo = mode != "image_only", mode == "text_image" or mode == "image_only"
    texts = [data.texts[i] if use_text else "" for i in idx]
    photos = [data.photos[i] if use_photo else None for i in idx]
    return idx, texts, photos


def cross_validate(data: TrainingSet, hp: Hyperparameters, folds: int) -> dict[str, Any]:
    n_classes = len(data.taxonomy)
    probs = {m: np.zeros((len(data.y), n_classes)) for m in MODES}
    seen = {m: np.zeros(len(data.y), dtype=bool) for m in MODES}
    fold_accuracy: dict[str, list[float]] = {m: [] for m in MODES}
    fold_of = np.full(len(data.y), -1)
    fit_seconds = []
    for train_idx, test_idx in _folds(data.y, folds, hp.seed + 1000):
        started = time.perf_counter()
        heads = fit_heads(data.subset(train_idx), hp)
        fit_seconds.append(time.perf_counter() - started)
        fold_of[test_idx] = len(fit_seconds) - 1
        print(
            f"fold {len(fit_seconds)}/{folds}: fitted in {fit_seconds[-1]:.0f} s", file=sys.stderr
        )
        model = heads.model(data.taxonomy, hp)
        test = data.subset(test_idx)
        for mode in MODES:
            idx, texts, photos = _mode_inputs(test, mode)
            if len(idx) == 0:
                continue
            p, _ = model.predict_proba(texts, photos, test.embeddings[idx])
            probs[mode][test_idx[idx]] = p
            seen[mode][test_idx[idx]] = True
            fold_accuracy[mode].append(float(np.mean(p.argmax(axis=1) == test.y[idx])))
    out: dict[str, Any] = {"folds": folds, "fit_seconds_median": statistics.median(fit_seconds)}
    for mode in MODES:
        rows = np.where(seen[mode])[0]
        out[mode] = classification_metrics(probs[mode][rows], data.y[rows], n_classes)
        # What a perfectly calibrated model would score here: ECE is judged against this, not 0.
        floor, sd = calibrated_ece(probs[mode][rows])
        out[mode] |= {"ece_calibrated_mean": floor, "ece_calibrated_sd": sd}
        # Beside the binned ECE, not instead of it: a calibration error without its small-sample
        # floor (Kumar et al. 2019's debiased L2 estimate, 0 for a perfectly calibrated model on
        # average in its square).
        out[mode]["ce_debiased"] = debiased_calibration_error(probs[mode][rows], data.y[rows])
    out["fusion_gain"] = out["text_image"].get("accuracy", 0.0) - out[
        "text_only_on_text_image_rows"
    ].get("accuracy", 0.0)
    # The spread says which differences are noise: a change worth keeping wins on most folds.
    out["fold_accuracy"] = {m: [round(a, 3) for a in fold_accuracy[m]] for m in MODES}
    out["_predictions"] = {m: (data.y[seen[m]], probs[m][seen[m]]) for m in MODES}
    out["_folds"] = {m: fold_of[seen[m]] for m in MODES}
    out["_model"] = model  # the last fold's: the report reads its taxonomy
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--hp", action="append", default=[], help="NAME=VALUE, repeatable")
    parser.add_argument("--cache", type=Path, default=Path(".work/cv"))
    parser.add_argument("--confusions", action="store_true", help="print the top confusions")
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="leave the photos out: score the text mode alone, in a fraction of the time (sweeps)",
    )
    parser.add_argument(
        "--report", type=Path, default=None, help="also write report.md and PNGs of the CV here"
    )
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="also save the pooled out-of-fold labels, probabilities and folds per mode (.npz), for "
        "scripts.cv_compare",
    )
    args = parser.parse_args(argv)
    hp = Hyperparameters.from_json(dict(kv.split("=", 1) for kv in args.hp))
    data = cached_training_set(args.data, args.cache, hp)
    if args.text_only:
        keep = data.text_rows
        data = data.subset(keep)
        data.photos = [None] * len(keep)
    result = cross_validate(data, hp, args.folds)
    predictions = result.pop("_predictions")
    fold_of = result.pop("_folds")
    model = result.pop("_model")
    if args.save:  # what scripts.cv_compare reads
        np.savez_compressed(
            args.save,
            classes=np.array([f"{c.code} {c.name_en}" for c in data.taxonomy.categories]),
            **{f"{m}_fold": fold_of[m] for m in MODES},
            **{
                f"{m}_{part}": v
                for m in MODES
                for part, v in zip(("y", "p"), predictions[m], strict=True)
            },
        )
    if args.report:
        model.version = f"cross-validation ({args.folds} folds, {' '.join(args.hp) or 'defaults'})"
        metrics = {m: result[m] for m in MODES[:3]}
        args.report.mkdir(parents=True, exist_ok=True)
        write_report(Evaluation(metrics, {}, predictions, LoadReport()), model, args.report)
    result = {
        k: {m: round(v, 4) if isinstance(v, float) else v for m, v in val.items()}
        if isinstance(val, dict)
        else round(val, 4)
        if isinstance(val, float)
        else val
        for k, val in result.items()
    }
    if args.confusions:
        result["top_confusions"] = {
            m: [
                f"{t.code} {t.name_en} -> {p.code} {p.name_en}: {n}"
                for t, p, n, _ in top_confusions(
                    predictions[m][0], predictions[m][1], data.taxonomy
                )
            ]
            for m in MODES[:3]
            if len(predictions[m][0])  # --text-only scores no photo mode
        }
    print(json.dumps({"hyperparameters": args.hp, **result}, indent=2))


if __name__ == "__main__":
    main()
