"""Human-readable evaluation report: per-class table (Markdown) and confusion-matrix PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from prodcat.model import MODES, ProductTypeModel

if TYPE_CHECKING:
    from prodcat.evaluation import Evaluation


def per_class_table(y: np.ndarray, probs: np.ndarray, model: ProductTypeModel) -> str:
    labels = list(range(model.n_classes))
    p, r, f, s = precision_recall_fscore_support(
        y, probs.argmax(axis=1), labels=labels, zero_division=0
    )
    lines = [
        "| code | name | precision | recall | f1 | support |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for i, cat in enumerate(model.taxonomy.categories):
        lines.append(
            f"| {cat.code} | {cat.name_en} | {p[i]:.3f} | {r[i]:.3f} | {f[i]:.3f} | {int(s[i])} |"
        )
    return "\n".join(lines)


def plot_confusion(
    y: np.ndarray, probs: np.ndarray, model: ProductTypeModel, path: Path, title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a job container
    import matplotlib.pyplot as plt

    cm = confusion_matrix(y, probs.argmax(axis=1), labels=list(range(model.n_classes)))
    # Row-normalised: each row shows where one true class went, whatever its size.
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    codes = [str(c) for c in model.taxonomy.codes]
    fig, ax = plt.subplots(figsize=(11, 10))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(codes)), codes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(codes)), codes, fontsize=7)
    ax.set_xlabel("predicted prdtypecode")
    ax.set_ylabel("true prdtypecode")
    ax.set_title(title)
    for i, j in zip(*np.nonzero(cm), strict=True):
        ax.text(
            j,
            i,
            str(cm[i, j]),
            ha="center",
            va="center",
            fontsize=6,
            color="white" if norm[i, j] > 0.5 else "black",
        )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(evaluation: Evaluation, model: ProductTypeModel, out_dir: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    sections = [f"# Evaluation of model {model.version}", ""]
    for mode in MODES:
        y, probs = evaluation.predictions[mode]
        m = evaluation.metrics[mode]
        if len(y) == 0:
            sections += [f"## {mode}", "", "No rows for this mode.", ""]
            continue
        png = out_dir / f"confusion_{mode}.png"
        plot_confusion(
            y, probs, model, png, f"{mode}: accuracy {m['accuracy']:.3f} on {m['n']} listings"
        )
        paths[f"confusion_{mode}"] = png
        sections += [
            f"## {mode}",
            "",
            f"n={m['n']} accuracy={m['accuracy']:.3f} top3={m['top3_accuracy']:.3f} "
            f"macro_f1={m['macro_f1']:.3f} weighted_f1={m['weighted_f1']:.3f} ece={m['ece']:.3f}",
            "",
            per_class_table(y, probs, model),
            "",
            f"![confusion matrix]({png.name})",
            "",
        ]
    sections += ["## Data", "", f"```\n{evaluation.report.to_json()}\n```", ""]
    paths["report"] = out_dir / "report.md"
    paths["report"].write_text("\n".join(sections))
    return paths
