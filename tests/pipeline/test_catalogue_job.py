"""sagemaker_jobs/catalogue.py: the catalogue in the raw zone -> JSON Lines for the transform
job that reclassifies it after a deploy (one line per product, photos as raw-zone keys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_harness import jpeg
from test_prepare_training_set import FEB, JAN, MAR, Lake

from sagemaker_jobs import catalogue


def _lines(out: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for part in sorted(out.glob("part-*.jsonl"))
        for line in part.read_text().splitlines()
    ]


def test_the_catalogue_is_base_and_admin_products_minus_deleted_ones(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "raw")
    photo = jpeg((200, 30, 30))
    lake.base(
        [("1", "Livre ancien", 10), ("2", "Jeu PS4", 40), ("3", "Console", 60)],
        photos={"1": photo},
    )
    lake.tombstone("2", FEB)  # a base product deleted
    lake.product("3", "Console reconditionnée", 60, MAR, photo=photo)  # an admin's record wins
    lake.product("OLD", "Tapis", 1560, JAN)
    lake.tombstone("OLD", FEB)  # added, then deleted
    lake.product("NEW", "Lampe", 2060, MAR)
    lake.feedback("req-1", "Vélo", 1280)  # a seller's listing, not a product: not classified

    assert catalogue.main(["--input", str(lake.root), "--output", str(tmp_path / "out")]) == 0

    lines = _lines(tmp_path / "out")
    assert [x["id"] for x in lines] == ["1", "3", "NEW"]
    by_id = {x["id"]: x for x in lines}
    assert by_id["1"]["designation"] == "Livre ancien"
    assert by_id["1"]["photo_key"] == "raw/base/images/image_train/image_1000_product_1.jpg"
    assert by_id["3"]["photo_key"] == "raw/products/photos/3.jpg"
    assert "Console reconditionnée" in str(by_id["3"]["description"])
    for line in lines:  # every key names a file of the raw zone the container may read
        key = line.get("photo_key")
        if key:
            assert (lake.root / str(key).removeprefix("raw/")).read_bytes() == photo


def test_a_large_catalogue_is_split_into_files_of_fixed_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path / "raw")
    lake.base([(str(n), f"Article {n}", 10) for n in range(25)])
    monkeypatch.setattr(catalogue, "INPUT_ROWS_PER_FILE", 10)
    assert catalogue.write_catalogue(lake.root, tmp_path / "out") == 25
    parts = sorted(p.name for p in (tmp_path / "out").glob("*.jsonl"))
    assert parts == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    assert [x["id"] for x in _lines(tmp_path / "out")] == [str(n) for n in range(25)]
