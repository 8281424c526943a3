"""load_listings / index_photos: any challenge-format directory, bad rows counted and never relabelled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from prodcat.data import (
    ChallengeRow,
    DataFormatError,
    LoadReport,
    index_photos,
    load_listings,
    write_split,
)
from prodcat_contracts.taxonomy import builtin_taxonomy
from prodcat_contracts.text import has_text, listing_text

TAX = builtin_taxonomy()
NO_TEXT: list[dict[str, str]] = json.loads(
    (Path(__file__).parents[1] / "events" / "listings_without_text.json").read_text()
)


def test_rows_are_joined_to_labels_by_index_column(
    tmp_path: Path, write_dataset: Callable[..., Path], jpeg: bytes
) -> None:
    # Y is written in reverse order: the join must use the index column, not the position.
    rows = [
        ("100", "Chaise en chêne", "<p>Lot de 2</p>", "501", "901", 1560),
        ("101", "Peluche Disney", "", "502", "902", 1280),
        ("102", "Croquettes pour chien", "Royal Canin 4 kg", "503", "903", 2220),
    ]
    d = write_dataset(tmp_path / "d", rows, y_reversed=True, photos={("901", "501"): jpeg})
    listings, report = load_listings(d, TAX)

    assert [(x.product_id, x.label) for x in listings] == [
        ("501", 1560),
        ("502", 1280),
        ("503", 2220),
    ]
    assert [x.row_id for x in listings] == ["train:100", "train:101", "train:102"]
    assert listings[0].text == listing_text("Chaise en chêne", "<p>Lot de 2</p>")
    assert listings[0].photo == d / "images" / "image_train" / "image_901_product_501.jpg"
    assert listings[0].has_photo and listings[0].has_text
    assert listings[1].photo is None and not listings[1].has_photo
    assert (report.rows_read, report.rows_kept) == (3, 3)
    assert report.photos_missing == 2
    assert not report.skipped


def test_missing_photo_keeps_the_text_listing(
    tmp_path: Path, write_dataset: Callable[..., Path], jpeg: bytes
) -> None:
    # The photo on disk belongs to another product: it must not be matched on imageid alone.
    d = write_dataset(
        tmp_path / "d", [("0", "Drone DJI", "", "1", "7", 1300)], photos={("7", "2"): jpeg}
    )
    listings, report = load_listings(d, TAX)
    assert len(listings) == 1
    assert listings[0].photo is None and listings[0].text == "Drone DJI"
    assert report.photos_missing == 1


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        (None, "missing_label"),  # no Y row for this index
        ("", "missing_label"),
        ("   ", "missing_label"),
        ("abc", "invalid_label"),
        ("10.0", "invalid_label"),
        ("1560;2060", "invalid_label"),
        ("9999", "unknown_label"),
        ("-10", "unknown_label"),
    ],
)
def test_bad_label_rows_are_skipped_with_reason(
    tmp_path: Path, write_dataset: Callable[..., Path], label: str | None, reason: str
) -> None:
    rows = [
        ("0", "Tondeuse Bosch", "", "1", "", 2585),
        ("1", "Piscine Intex", "", "2", "", label),
        ("2", "Cahier A4", "", "3", "", 2522),
    ]
    listings, report = load_listings(write_dataset(tmp_path / "d", rows), TAX)
    # The bad row is gone; its neighbours keep exactly their own labels.
    assert [(x.product_id, x.label) for x in listings] == [("1", 2585), ("3", 2522)]
    assert dict(report.skipped) == {reason: 1}
    assert (report.rows_read, report.rows_kept) == (3, 2)


def test_label_with_surrounding_spaces_is_read(
    tmp_path: Path, write_dataset: Callable[..., Path]
) -> None:
    d = write_dataset(tmp_path / "d", [("0", "Thé vert bio", "", "1", "", " 1940 ")])
    listings, report = load_listings(d, TAX)
    assert [x.label for x in listings] == [1940]
    assert not report.skipped


@pytest.mark.parametrize(
    ("designation", "description", "imageid", "photos_missing"),
    [
        ("", "", "", 0),
        ("<br/>", "&nbsp; <p></p>", "", 0),
        ("", "", "42", 1),  # the photo it names is not on disk
    ],
)
def test_listing_with_no_text_and_no_photo_is_skipped(
    tmp_path: Path,
    write_dataset: Callable[..., Path],
    designation: str,
    description: str,
    imageid: str,
    photos_missing: int,
) -> None:
    rows = [
        ("0", designation, description, "9", imageid, 10),
        ("1", "Roman Folio", "", "8", "", 10),
    ]
    listings, report = load_listings(write_dataset(tmp_path / "d", rows), TAX)
    assert [x.product_id for x in listings] == ["8"]
    assert dict(report.skipped) == {"empty_listing": 1}
    assert report.photos_missing == photos_missing


def test_rows_whose_text_cleans_to_nothing_have_no_text(
    tmp_path: Path, write_dataset: Callable[..., Path], jpeg: bytes
) -> None:
    # The bodies the API and the container refuse: training reads them as no text too, so a
    # row without a photo is an empty listing and one with a photo is a photo-only listing.
    rows = [
        (str(i), b.get("designation", ""), b.get("description", ""), str(i), str(100 + i), 10)
        for i, b in enumerate(NO_TEXT)
    ]
    photos = {("100", "0"): jpeg}
    listings, report = load_listings(write_dataset(tmp_path / "d", rows, photos=photos), TAX)
    assert dict(report.skipped) == {"empty_listing": len(NO_TEXT) - 1}
    (kept,) = listings
    assert (kept.product_id, kept.text, kept.has_text) == ("0", "", False)
    assert kept.has_photo
    assert not any(has_text(b.get("designation"), b.get("description")) for b in NO_TEXT)


def test_photo_only_listing_is_kept(
    tmp_path: Path, write_dataset: Callable[..., Path], jpeg: bytes
) -> None:
    d = write_dataset(tmp_path / "d", [("0", "", "", "5", "6", 1140)], photos={("6", "5"): jpeg})
    listings, report = load_listings(d, TAX)
    assert len(listings) == 1
    assert listings[0].text == "" and not listings[0].has_text
    assert listings[0].photo is not None and listings[0].photo.name == "image_6_product_5.jpg"
    assert listings[0].label == 1140
    assert not report.skipped


def test_quoted_csv_fields_with_commas_and_newlines(
    tmp_path: Path, write_dataset: Callable[..., Path]
) -> None:
    rows = [("0", 'Table "scandinave", chêne', "Ligne 1,\nligne 2\r\n<b>fin</b>", "1", "", 1560)]
    listings, _ = load_listings(write_dataset(tmp_path / "d", rows), TAX)
    assert listings[0].text == 'Table "scandinave", chêne . Ligne 1, ligne 2 fin'


def test_description_over_128_kib_loads(tmp_path: Path, write_dataset: Callable[..., Path]) -> None:
    description = "<p>Très grande description &eacute;crite en HTML.</p>\n" * 4000
    assert len(description.encode()) > 200 * 1024  # csv's default field limit is 128 KiB
    rows = [("0", "Guide", description, "1", "", 2705), ("1", "Roman", "", "2", "", 2705)]
    listings, report = load_listings(write_dataset(tmp_path / "d", rows), TAX)
    assert report.rows_kept == 2
    assert listings[0].text.startswith("Guide . Très grande description écrite en HTML.")
    assert "<p>" not in listings[0].text
    assert len(listings[0].text) > 150_000


def test_unlabelled_data_loads_when_labels_are_not_required(
    tmp_path: Path, write_dataset: Callable[..., Path]
) -> None:
    d = write_dataset(tmp_path / "d", [("0", "Parasol déporté", "", "1", "")], with_y=False)
    listings, report = load_listings(d, TAX, require_labels=False)
    assert [(x.text, x.label) for x in listings] == [("Parasol déporté", None)]
    assert report.rows_kept == 1


def test_every_split_in_the_directory_is_read(
    tmp_path: Path, write_dataset: Callable[..., Path]
) -> None:
    d = write_dataset(tmp_path / "d", [("0", "Stylo plume", "", "1", "", 2522)], split="train")
    write_dataset(d, [("0", "Agenda 2024", "", "2", "", 2522)], split="test")
    listings, report = load_listings(d, TAX)
    assert sorted(x.row_id for x in listings) == ["test:0", "train:0"]
    assert report.rows_read == 2


def test_images_only_rows(tmp_path: Path, jpeg: bytes, write_dataset: Callable[..., Path]) -> None:
    d = write_dataset(
        tmp_path / "d",
        [("0", "Poussette pliable", "", "1", "", 1320)],
        photos={("11", "21"): jpeg},
        images_only=[
            ["0", "21", "11", "1320"],  # photo on disk
            ["1", "22", "12", "1320"],  # photo not on disk
            ["2", "21", "11", "oops"],
            ["3", "21", "11", ""],
        ],
    )
    listings, report = load_listings(d, TAX)
    photo_only = [x for x in listings if x.row_id.startswith("images_only:")]
    assert [(x.row_id, x.product_id, x.text, x.label) for x in photo_only] == [
        ("images_only:0", "21", "", 1320)
    ]
    assert photo_only[0].photo is not None
    assert dict(report.skipped) == {
        "photo_only_row_without_photo": 1,
        "invalid_label": 1,
        "missing_label": 1,
    }
    assert report.photos_missing == 1
    assert (report.rows_read, report.rows_kept) == (5, 2)


def test_images_only_directory_without_x_files(tmp_path: Path, jpeg: bytes) -> None:
    d = tmp_path / "d"
    (d / "photos").mkdir(parents=True)
    (d / "photos" / "image_11_product_21.jpg").write_bytes(jpeg)
    (d / "images_only.csv").write_text(",productid,imageid,prdtypecode\n0,21,11,2060\n")
    listings, _ = load_listings(d, TAX)
    assert [(x.product_id, x.label, x.has_photo) for x in listings] == [("21", 2060, True)]


# ---- errors that say what is wrong ---------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found") as info:
        load_listings(tmp_path / "absent", TAX)
    assert "absent" in str(info.value)


def test_directory_without_x_file(tmp_path: Path) -> None:
    (tmp_path / "Y_train.csv").write_text(",prdtypecode\n0,10\n")
    with pytest.raises(DataFormatError, match=r"X_<split>\.csv"):
        load_listings(tmp_path, TAX)


def test_x_file_missing_columns(tmp_path: Path, write_dataset: Callable[..., Path]) -> None:
    d = write_dataset(
        tmp_path / "d", [("0", "Vase", "", "1", "")], x_header=["", "designation", "productid"]
    )
    with pytest.raises(DataFormatError, match="lacks columns: description, imageid"):
        load_listings(d, TAX)


def test_x_without_y(tmp_path: Path, write_dataset: Callable[..., Path]) -> None:
    d = write_dataset(tmp_path / "d", [("0", "Vase", "", "1", "")], with_y=False)
    with pytest.raises(DataFormatError, match=r"X_train\.csv has no matching Y_train\.csv"):
        load_listings(d, TAX)


def test_y_without_label_column(tmp_path: Path, write_dataset: Callable[..., Path]) -> None:
    d = write_dataset(tmp_path / "d", [("0", "Vase", "", "1", "")], with_y=False)
    (d / "Y_train.csv").write_text(",label\n0,10\n")
    with pytest.raises(DataFormatError, match="prdtypecode"):
        load_listings(d, TAX)


# ---- photo index and report -----------------------------------------------------------------


def test_index_photos_matches_challenge_names_anywhere_below_root(tmp_path: Path) -> None:
    names = {
        "a/image_1_product_2.jpg": True,
        "a/b/c/image_3_product_4.JPG": True,
        "image_5_product_6.jpeg": True,
        "image_7_product_8.png": False,
        "image_9_product_10.jpg.bak": False,
        "thumb_image_11_product_12.jpg": False,
        "image_x_product_13.jpg": False,
    }
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = index_photos(tmp_path)
    assert found == {
        ("1", "2"): tmp_path / "a/image_1_product_2.jpg",
        ("3", "4"): tmp_path / "a/b/c/image_3_product_4.JPG",
        ("5", "6"): tmp_path / "image_5_product_6.jpeg",
    }


def test_load_report_json_is_sorted_and_serialisable() -> None:
    report = LoadReport(rows_read=5, rows_kept=2, photos_missing=1)
    for reason in ["unknown_label", "empty_listing", "unknown_label"]:
        report.skip(reason)
    out = report.to_json()
    assert out == {
        "rows_read": 5,
        "rows_kept": 2,
        "skipped": {"empty_listing": 1, "unknown_label": 2},
        "photos_missing": 1,
    }
    assert list(out["skipped"]) == ["empty_listing", "unknown_label"]  # type: ignore[arg-type]
    assert json.loads(json.dumps(out)) == out


@pytest.mark.parametrize("copy", [False, True])
def test_what_write_split_writes_loads_back_the_same(
    tmp_path: Path, jpeg: bytes, copy: bool
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg)
    rows = [
        ChallengeRow(product_id="501", text="chaise en chêne . lot de 2", label=1560),
        ChallengeRow(product_id="502", text="", label=1280, photo=photo, image_id="902"),
        ChallengeRow(product_id="503", text="croquettes", label=2220, photo=photo, image_id="903"),
    ]
    write_split(rows, tmp_path / "d", "test", copy=copy)
    listings, report = load_listings(tmp_path / "d", TAX)

    assert report.skipped == {}
    assert sorted((x.product_id, x.text, x.label) for x in listings) == [
        ("501", "chaise en chêne . lot de 2", 1560),
        ("502", "", 1280),
        ("503", "croquettes", 2220),
    ]
    loaded = {x.product_id: x.photo for x in listings}
    assert loaded["501"] is None
    assert loaded["502"] is not None and loaded["502"].name == "image_902_product_502.jpg"
    assert loaded["503"] is not None and loaded["503"].read_bytes() == jpeg
    assert loaded["503"].is_symlink() is not copy
