"""write_sample_catalog: a deterministic, loadable catalog of all 27 categories."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from prodcat.data import load_listings
from prodcat.photos import IMAGE_SIZE, read_photo
from prodcat.sample_catalog import write_sample_catalog
from prodcat_contracts.taxonomy import builtin_taxonomy, load_taxonomy

PER_CLASS = 2


def _digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below root."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_catalog(tmp_path_factory.mktemp("a"), per_class=PER_CLASS, seed=0)


def test_same_seed_gives_the_same_bytes(
    catalog: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    again = write_sample_catalog(tmp_path_factory.mktemp("b"), per_class=PER_CLASS, seed=0)
    assert (again / "X_train.csv").read_bytes() == (catalog / "X_train.csv").read_bytes()
    assert _digest(again) == _digest(catalog)


def test_different_seeds_differ(catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = write_sample_catalog(tmp_path_factory.mktemp("c"), per_class=PER_CLASS, seed=1)
    assert (other / "X_train.csv").read_bytes() != (catalog / "X_train.csv").read_bytes()


def test_loads_with_all_27_classes_and_its_photos(catalog: Path) -> None:
    taxonomy = load_taxonomy(catalog)
    assert taxonomy == builtin_taxonomy()  # its categories.csv repeats the built-in names
    listings, report = load_listings(catalog, taxonomy)

    assert Counter(x.label for x in listings) == {code: PER_CLASS for code in taxonomy.codes}
    assert report.rows_read == report.rows_kept == 27 * PER_CLASS
    assert not report.skipped
    assert all(x.has_text for x in listings)

    photo_files = sorted((catalog / "images" / "image_train").glob("*.jpg"))
    with_photo = [x for x in listings if x.has_photo]
    assert sorted(x.photo for x in with_photo) == photo_files  # type: ignore[type-var]
    assert 0 < len(photo_files) < len(listings)  # default photo_share is 0.8
    assert report.photos_missing == len(listings) - len(photo_files)
    assert read_photo(photo_files[0]).shape == (IMAGE_SIZE, IMAGE_SIZE, 3)


def test_text_looks_like_the_challenge(catalog: Path) -> None:
    raw = (catalog / "X_train.csv").read_text(encoding="utf-8")
    assert raw.startswith(",designation,description,productid,imageid")
    listings, _ = load_listings(catalog, builtin_taxonomy())
    # Descriptions carry HTML in the file, never in what the model reads.
    assert "<" in raw or "&" in raw
    assert not any("<br" in x.text or "&eacute;" in x.text for x in listings)


@pytest.mark.parametrize(("share", "expect_all"), [(1.0, True), (0.0, False)])
def test_photo_share_extremes(tmp_path: Path, share: float, expect_all: bool) -> None:
    d = write_sample_catalog(tmp_path, per_class=1, photo_share=share, seed=3, split="test")
    assert (d / "X_test.csv").is_file() and (d / "Y_test.csv").is_file()
    listings, report = load_listings(d, builtin_taxonomy())
    assert len(listings) == 27
    assert all(x.has_photo == expect_all for x in listings)
    assert report.photos_missing == (0 if expect_all else 27)
    assert all(x.row_id.startswith("test:") for x in listings)


def test_writing_over_a_catalog_leaves_no_stale_photo(tmp_path: Path) -> None:
    write_sample_catalog(tmp_path, per_class=3, seed=0)
    write_sample_catalog(tmp_path, per_class=1, seed=1)
    listings = load_listings(tmp_path, builtin_taxonomy())[0]
    used = {x.photo.name for x in listings if x.photo is not None}
    on_disk = {p.name for p in (tmp_path / "images/image_train").iterdir()}
    assert len(listings) == 27 and used and on_disk == used


def test_per_class_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        write_sample_catalog(tmp_path, per_class=0)
