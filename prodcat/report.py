"""Human-readable evaluation report: per-class table, top confusions by name, the data table
(Markdown), and per mode a confusion-matrix PNG and a reliability diagram PNG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from prodcat.metrics import ECE_BINS, reliability_bins
from prodcat.model import MODES, ProductTypeModel
from prodcat_contracts.taxonomy import Category, Taxonomy

if TYPE_CHECKING:
    from prodcat.evaluation import Evaluation


def per_class_table(y: np.ndarray, probs: np.ndarray, model: ProductTypeModel) -> str:
    labels = list(range(model.n_classes))
    p, r, f, s = precision_recall_fscore_support(
        y, probs.argmax(axis=1), labels=labels, zero_division=0
    )
    lines = [
        "| code | name | name (fr) | precision | recall | f1 | support |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for i, cat in enumerate(model.taxonomy.categories):
        lines.append(
            f"| {cat.code} | {cat.name_en} | {cat.name_fr} | {p[i]:.3f} | {r[i]:.3f} | {f[i]:.3f} | {int(s[i])} |"
        )
    return "\n".join(lines)


def _name(cat: Category) -> str:
    """`code English / French`, the French only where it differs."""
    fr = f" / {cat.name_fr}" if cat.name_fr and cat.name_fr != cat.name_en else ""
    return f"{cat.code} {cat.name_en}{fr}"


def _short(cat: Category, width: int = 28) -> str:
    """An axis label: the code and the English name, cut to fit."""
    text = f"{cat.code} {cat.name_en}"
    return text if len(text) <= width else text[: width - 1] + "…"


def top_confusions(
    y: np.ndarray, probs: np.ndarray, taxonomy: Taxonomy, k: int = 10
) -> list[tuple[Category, Category, int, float]]:
    """(true, predicted, count, share of the true class's rows), most frequent first."""
    cm = confusion_matrix(y, probs.argmax(axis=1), labels=list(range(len(taxonomy))))
    support = cm.sum(axis=1)
    np.fill_diagonal(cm, 0)
    # Ties by code order, so the list is stable.
    order = np.argsort(-cm, axis=None, kind="stable")[:k]
    cats = taxonomy.categories
    out = []
    for i, j in (np.unravel_index(o, cm.shape) for o in order):
        if cm[i, j]:
            out.append((cats[i], cats[j], int(cm[i, j]), float(cm[i, j] / support[i])))
    return out


def confusions_table(y: np.ndarray, probs: np.ndarray, taxonomy: Taxonomy) -> str:
    lines = ["| true | predicted as | listings | share of true |", "|---|---|---:|---:|"]
    for true, pred, count, share in top_confusions(y, probs, taxonomy):
        lines.append(f"| {_name(true)} | {_name(pred)} | {count} | {share:.1%} |")
    return "\n".join(lines)


def data_table(data: dict[str, object]) -> str:
    """The load report (rows read, kept, skipped by reason) as a two-column table."""
    lines = ["| rows | count |", "|---|---:|"]
    for key, value in data.items():
        if isinstance(value, dict):
            if not value:
                lines.append(f"| {key.replace('_', ' ')} | 0 |")
            for reason, count in value.items():
                lines.append(f"| {key.replace('_', ' ')}: {reason.replace('_', ' ')} | {count} |")
        else:
            lines.append(f"| {key.replace('_', ' ')} | {value} |")
    return "\n".join(lines)


def plot_reliability(y: np.ndarray, probs: np.ndarray, path: Path, title: str) -> None:
    """Accuracy against top-1 confidence per bin (the ECE's bins), with the bins' row counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts, mean_conf, accuracy = reliability_bins(probs, y, ECE_BINS)
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    centers, width = (edges[:-1] + edges[1:]) / 2, 1.0 / ECE_BINS
    used = counts > 0
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(6, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.bar(centers[used], accuracy[used], width=width * 0.9, color="#4c72b0", label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(mean_conf[used], accuracy[used], "o", color="#dd8452", label="mean confidence")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy of the top-1 type")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    hist.bar(centers, counts, width=width * 0.9, color="#55a868")
    hist.set_xlim(0, 1)
    hist.set_xlabel("top-1 probability")
    hist.set_ylabel("listings")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_confusion(
    y: np.ndarray, probs: np.ndarray, model: ProductTypeModel, path: Path, title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a job container
    import matplotlib.pyplot as plt

    cm = confusion_matrix(y, probs.argmax(axis=1), labels=list(range(model.n_classes)))
    # Row-normalised: each row shows where one true class went, whatever its size.
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    labels = [_short(c) for c in model.taxonomy.categories]
    fig, ax = plt.subplots(figsize=(13, 12))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted product type")
    ax.set_ylabel("true product type")
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
        reliability = out_dir / f"reliability_{mode}.png"
        plot_reliability(y, probs, reliability, f"{mode}: ECE {m['ece']:.3f} on {m['n']} listings")
        paths[f"reliability_{mode}"] = reliability
        sections += [
            f"## {mode}",
            "",
            f"n={m['n']} accuracy={m['accuracy']:.3f} top3={m['top3_accuracy']:.3f} "
            f"macro_f1={m['macro_f1']:.3f} weighted_f1={m['weighted_f1']:.3f} ece={m['ece']:.3f}",
            "",
            per_class_table(y, probs, model),
            "",
            "Most frequent confusions:",
            "",
            confusions_table(y, probs, model.taxonomy),
            "",
            f"![confusion matrix]({png.name})",
            "",
            f"![reliability diagram]({reliability.name})",
            "",
        ]
    sections += ["## Data", "", data_table(evaluation.report.to_json()), ""]
    paths["report"] = out_dir / "report.md"
    paths["report"].write_text("\n".join(sections))
    return paths
