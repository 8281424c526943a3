"""The evaluation report: top confusions by name, the data table and the reliability diagram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prodcat.metrics import reliability_bins
from prodcat.report import confusions_table, data_table, plot_reliability, top_confusions
from prodcat_contracts.taxonomy import builtin_taxonomy


def _one_hot(pred: list[int], n: int) -> np.ndarray:
    probs = np.full((len(pred), n), 0.1 / (n - 1))
    probs[np.arange(len(pred)), pred] = 0.9
    return probs


def test_top_confusions_are_counted_by_pair_and_named() -> None:
    taxonomy = builtin_taxonomy()
    n = len(taxonomy)
    # Class 0: 4 rows, 3 taken for class 1; class 2: 2 rows, 1 taken for class 0.
    y = np.array([0, 0, 0, 0, 2, 2])
    probs = _one_hot([1, 1, 1, 0, 0, 2], n)
    pairs = top_confusions(y, probs, taxonomy)
    cats = taxonomy.categories
    assert [(t.code, p.code, c) for t, p, c, _ in pairs] == [
        (cats[0].code, cats[1].code, 3),
        (cats[2].code, cats[0].code, 1),
    ]
    assert [round(s, 3) for *_, s in pairs] == [0.75, 0.5]
    table = confusions_table(y, probs, taxonomy)
    assert cats[0].name_en in table and cats[1].name_fr in table and "75.0%" in table


def test_data_table_lists_every_reason_as_a_row() -> None:
    table = data_table(
        {
            "rows_read": 10,
            "rows_kept": 7,
            "skipped": {"empty_listing": 2, "unknown_label": 1},
            "photos_missing": 0,
        }
    )
    assert "{" not in table
    assert "| rows read | 10 |" in table
    assert "| skipped: empty listing | 2 |" in table
    assert "| skipped: unknown label | 1 |" in table


def test_reliability_bins_and_the_diagram(tmp_path: Path) -> None:
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.95, 0.05], [0.92, 0.08], [0.55, 0.45], [0.4, 0.6]])
    counts, conf, acc = reliability_bins(probs, y, bins=10)
    assert counts[9] == 2 and acc[9] == 1.0 and np.isclose(conf[9], 0.935)
    assert counts[5] == 2 and acc[5] == 0.5 and np.isclose(conf[5], 0.575)
    assert counts.sum() == 4
    png = tmp_path / "r.png"
    plot_reliability(y, probs, png, "test")
    assert png.read_bytes()[:4] == b"\x89PNG"
