"""sagemaker_jobs/prepare.py: the raw zone (base data, admin products, seller feedback,
tombstones) -> a versioned training set in the challenge format, split stably by id."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pipeline_harness import jpeg

from prodcat.data import DataFormatError, load_listings
from prodcat_contracts.lake import FeedbackRecord, PhotoRef, ProductRecord, Tombstone
from prodcat_contracts.taxonomy import builtin_taxonomy
from sagemaker_jobs import prepare

JAN, FEB, MAR = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3))


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


class Lake:
    """A raw zone on disk, laid out as the processing job receives it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def base(
        self, rows: list[tuple[str, str, int]], photos: dict[str, bytes] | None = None
    ) -> None:
        """(product id, title, label) rows in X_train/Y_train; photos by product id."""
        base = self.root / "base"
        x = ["," + "designation,description,productid,imageid"]
        y = [",prdtypecode"]
        for i, (pid, title, label) in enumerate(rows):
            image = f"{1000 + i}" if photos and pid in photos else ""
            x.append(f"{i},{title},,{pid},{image}")
            y.append(f"{i},{label}")
            if image and photos:
                _write(
                    base / "images/image_train" / f"image_{image}_product_{pid}.jpg", photos[pid]
                )
        _write(base / "X_train.csv", "\n".join(x) + "\n")
        _write(base / "Y_train.csv", "\n".join(y) + "\n")

    def product(
        self, pid: str, title: str, code: int, when: datetime, photo: bytes | None = None
    ) -> None:
        ref = None
        if photo is not None:
            key = f"raw/products/photos/{pid}.jpg"
            _write(self.root / key.removeprefix("raw/"), photo)
            ref = PhotoRef(key=key, bytes=len(photo), sha256="x")
        record = ProductRecord(
            product_id=pid,
            designation=title,
            prdtypecode=code,
            added_by="a",
            added_at=when,
            photo=ref,
        )
        _write(self.root / f"products/records/{pid}.json", record.model_dump_json())

    def feedback(self, request_id: str, title: str, code: int, photo: bytes | None = None) -> None:
        ref = None
        if photo is not None:
            key = f"raw/feedback/photos/{request_id}.jpg"
            _write(self.root / key.removeprefix("raw/"), photo)
            ref = PhotoRef(key=key, bytes=len(photo), sha256="x")
        record = FeedbackRecord(
            request_id=request_id,
            prdtypecode=code,
            predicted_code=10,
            model_version="v",
            designation=title,
            given_at=FEB,
            photo=ref,
        )
        _write(self.root / f"feedback/date=2026-02-01/{request_id}.json", record.model_dump_json())

    def tombstone(self, pid: str, when: datetime) -> None:
        stone = Tombstone(product_id=pid, deleted_by="a", deleted_at=when)
        _write(self.root / f"products/deleted/{pid}.json", stone.model_dump_json())


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "raw")


def _ids_in_test(count: int, share: float = 0.5) -> tuple[list[str], list[str]]:
    """`count` numeric ids that land in test and `count` that land in train."""
    test: list[str] = []
    train: list[str] = []
    for n in range(10_000):
        pid = str(4_000_000 + n)
        (test if prepare.in_test_split(pid, share) else train).append(pid)
        if len(test) >= count and len(train) >= count:
            return test[:count], train[:count]
    raise AssertionError("not enough ids")


def _sources(out: Path, split: str) -> dict[str, tuple[str, str]]:
    """source id -> (source, productid in the CSV)."""
    with (out / split / "sources.csv").open(newline="") as f:
        return {r["source_id"]: (r["source"], r["productid"]) for r in csv.DictReader(f)}


def _all_sources(out: Path) -> dict[str, tuple[str, str]]:
    return {**_sources(out, "train"), **_sources(out, "test")}


def test_base_products_and_feedback_become_one_challenge_format_training_set(
    lake: Lake, tmp_path: Path
) -> None:
    (t1, t2), (r1, _) = _ids_in_test(2)
    lake.base(
        [(t1, "Roman policier", 10), (t2, "Console Switch", 60), (r1, "Piscine Intex", 2583)],
        photos={t1: jpeg((10, 10, 10))},
    )
    lake.product("ADM-9", "Manette sans fil PS4", 50, JAN, photo=jpeg((200, 0, 0)))
    lake.feedback("req-42", "Croquettes pour chien", 2220, photo=jpeg((0, 200, 0)))
    lake.feedback("req-43", "", 2220, photo=jpeg((0, 0, 200)))  # a photo-only listing

    manifest = prepare.run(lake.root, tmp_path / "out", 0.5, run_id="r1", code_version="c1")

    out = tmp_path / "out"
    sources = _all_sources(out)
    assert set(sources) == {t1, t2, r1, "ADM-9", "feedback-req-42", "feedback-req-43"}
    assert sources["feedback-req-42"][0] == "feedback" and sources["ADM-9"][0] == "product"
    # Ids that are not digits get a stable 19-digit stand-in (photo names need digits).
    assert sources[t1][1] == t1
    stand_in = sources["feedback-req-42"][1]
    assert stand_in.isdigit() and len(stand_in) == 19
    assert stand_in == prepare.numeric_id("feedback-req-42")
    # Both splits load with the loader training uses, photos and photo-only rows included.
    taxonomy = builtin_taxonomy()
    loaded = {}
    for split in ("train", "test"):
        assert (out / split / f"X_{split}.csv").is_file()
        listings, report = load_listings(out / split, taxonomy)
        assert report.skipped == {} and report.photos_missing == 0
        loaded.update({x.product_id: x for x in listings})
    assert loaded[t1].photo is not None and loaded[t1].label == 10
    assert loaded[prepare.numeric_id("ADM-9")].photo is not None
    photo_only = loaded[prepare.numeric_id("feedback-req-43")]
    assert photo_only.text == "" and photo_only.photo is not None and photo_only.label == 2220
    assert manifest["code_version"] == "c1" and manifest["run_id"] == "r1"
    assert manifest["sources"]["feedback"]["kept"] == 2
    assert (
        json.loads((out / "dataset.json").read_text())["data_version"] == manifest["data_version"]
    )
    assert not (out / "validation").exists()  # no validation share: no directory


def test_the_split_is_stable_by_id_and_test_rows_never_move(lake: Lake, tmp_path: Path) -> None:
    ids = [str(5_000_000 + n) for n in range(60)]
    lake.base([(pid, f"Produit numero {pid}", 10 if n % 2 else 60) for n, pid in enumerate(ids)])
    prepare.run(lake.root, tmp_path / "a", 0.3)
    prepare.run(lake.root, tmp_path / "b", 0.3, validation_share=0.2)
    test_a, test_b = set(_sources(tmp_path / "a", "test")), set(_sources(tmp_path / "b", "test"))
    assert test_a == test_b and 0 < len(test_a) < 60  # a validation split takes from train only
    assert (
        set(_sources(tmp_path / "b", "validation"))
        and (tmp_path / "b/validation/X_validation.csv").is_file()
    )
    for pid in ids:
        expected = "test" if prepare.in_test_split(pid, 0.3) else "train"
        assert (pid in test_a) == (expected == "test")


def test_tombstones_remove_products_unless_added_again_later(lake: Lake, tmp_path: Path) -> None:
    (t1,), (r1, r2, r3) = _ids_in_test(1)[0], _ids_in_test(3)[1]
    lake.base(
        [(t1, "Livre ancien", 10), (r1, "Jeu PS4", 40), (r2, "Console", 60), (r3, "Cadre", 1560)]
    )
    lake.tombstone(r1, FEB)  # a base product deleted
    lake.tombstone(r2, FEB)
    lake.product(r2, "Console reconditionnée", 60, MAR)  # re-added after its tombstone
    lake.product("OLD", "Tapis", 1560, JAN)
    lake.tombstone("OLD", FEB)  # added, then deleted
    _write(lake.root / f"products/deleted/{r3}.json", "not json")  # unreadable: still deletes

    manifest = prepare.run(lake.root, tmp_path / "out", 0.5)

    kept = _all_sources(tmp_path / "out")
    assert set(kept) == {t1, r2}
    assert kept[r2][0] == "product"
    assert manifest["removed"]["tombstoned"] == 4  # r1, the base r2, OLD, r3


def test_duplicates_keep_one_row_with_the_most_authoritative_label(
    lake: Lake, tmp_path: Path
) -> None:
    (t1,), (r1, r2) = _ids_in_test(1)[0], _ids_in_test(2)[1]
    photo = jpeg((50, 60, 70))
    lake.base([(t1, "Roman", 10), (r1, "Jeu video", 40), (r2, "Jeu video", 2905)])
    lake.product(t1, "Roman relié", 2403, JAN)  # an admin relabels a base product
    lake.product(t1 + "0", "Manette", 50, JAN, photo=photo)
    lake.feedback("req-1", "Manette", 60, photo=photo)  # same text and photo as the product

    manifest = prepare.run(lake.root, tmp_path / "out", 0.5)

    kept = _all_sources(tmp_path / "out")
    assert kept[t1][0] == "product"  # the admin's record replaces the base row
    assert "feedback-req-1" not in kept and t1 + "0" in kept  # the admin's label wins
    assert len({r1, r2} & set(kept)) == 1  # same listing under two ids: one row, not a leak
    assert manifest["removed"] == {
        "tombstoned": 0,
        "duplicate_id": 1,
        "duplicate_content": 2,
        "label_conflicts": 2,
    }


def test_unusable_records_are_counted_not_trained_on(lake: Lake, tmp_path: Path) -> None:
    (t1,), (r1,) = _ids_in_test(1)[0], _ids_in_test(1)[1]
    lake.base([(t1, "Roman", 10), (r1, "Jeu", 40)])
    lake.product("P1", "Objet inconnu", 99999, JAN)
    lake.product("P2", "", 10, JAN)  # nothing to learn from
    lake.product("P3", "Lampe", 2060, JAN, photo=jpeg((1, 2, 3)))
    (lake.root / "products/photos/P3.jpg").unlink()  # its photo never arrived: text kept
    _write(lake.root / "feedback/date=2026-02-01/broken.json", "{")

    manifest = prepare.run(lake.root, tmp_path / "out", 0.5)

    products = manifest["sources"]["products"]
    assert products["skipped"] == {"empty_listing": 1, "unknown_label": 1}
    assert products["photos_missing"] == 1 and products["kept"] == 1
    assert manifest["sources"]["feedback"]["skipped"] == {"invalid_record": 1}


def test_the_data_version_follows_the_content_not_the_run(lake: Lake, tmp_path: Path) -> None:
    (t1,), (r1,) = _ids_in_test(1)[0], _ids_in_test(1)[1]
    lake.base([(t1, "Roman", 10), (r1, "Jeu", 40)], photos={r1: jpeg((9, 9, 9))})
    first = prepare.run(lake.root, tmp_path / "a", 0.5, run_id="one", code_version="x")
    again = prepare.run(lake.root, tmp_path / "b", 0.5, run_id="two", code_version="y")
    assert first["data_version"] == again["data_version"]
    # Same names, other photo bytes: another version.
    (photo,) = (lake.root / "base").rglob("*.jpg")
    photo.write_bytes(jpeg((200, 9, 9)))
    assert prepare.run(lake.root, tmp_path / "c", 0.5)["data_version"] != first["data_version"]


def test_the_challenges_unlabelled_test_file_is_skipped_not_fatal(
    lake: Lake, tmp_path: Path
) -> None:
    (t1,), (r1,) = _ids_in_test(1)[0], _ids_in_test(1)[1]
    lake.base([(t1, "Roman", 10), (r1, "Jeu", 40)])
    shutil.copy(lake.root / "base/X_train.csv", lake.root / "base/X_test.csv")
    manifest = prepare.run(lake.root, tmp_path / "out", 0.5)
    assert manifest["sources"]["base"]["skipped"] == {"unlabelled": 2}


def test_an_empty_lake_says_where_the_base_data_goes(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    with pytest.raises(DataFormatError, match="raw/base/"):
        prepare.run(tmp_path / "raw", tmp_path / "out", 0.5)
