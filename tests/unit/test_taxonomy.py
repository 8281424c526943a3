"""The 27 prdtypecodes, names from categories.csv, and the JSON form stored in model artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodcat_contracts.taxonomy import BUILTIN_NAMES, Taxonomy, builtin_taxonomy, load_taxonomy

CHALLENGE_CODES = [
    10, 40, 50, 60, 1140, 1160, 1180, 1280, 1281, 1300, 1301, 1302, 1320, 1560,
    1920, 1940, 2060, 2220, 2280, 2403, 2462, 2522, 2582, 2583, 2585, 2705, 2905,
]  # fmt: skip


def test_builtin_taxonomy_has_the_27_challenge_codes_in_order() -> None:
    tax = builtin_taxonomy()
    assert len(tax) == 27
    assert tax.codes == CHALLENGE_CODES
    for i, code in enumerate(CHALLENGE_CODES):
        assert tax.index_of(code) == i
        assert code in tax
    assert 9999 not in tax
    assert all(c.name_en and c.name_fr for c in tax.categories)


def test_without_categories_csv_the_builtin_names_are_used(tmp_path: Path) -> None:
    assert load_taxonomy(tmp_path) == builtin_taxonomy()


def _categories(tmp_path: Path, text: str) -> Path:
    (tmp_path / "categories.csv").write_text(text, encoding="utf-8")
    return tmp_path


def test_categories_csv_overrides_names(tmp_path: Path) -> None:
    tax = load_taxonomy(
        _categories(
            tmp_path,
            "prdtypecode,name_fr,name_en\n"
            "10, Livres anciens ,Old books\n"
            "2905,,PC games (download)\n",  # blank French name: keep the built-in one
        )
    )
    assert tax.codes == CHALLENGE_CODES
    by_code = {c.code: c for c in tax.categories}
    assert (by_code[10].name_fr, by_code[10].name_en) == ("Livres anciens", "Old books")
    assert by_code[2905].name_en == "PC games (download)"
    assert by_code[2905].name_fr == BUILTIN_NAMES[2905][1]
    assert (by_code[40].name_en, by_code[40].name_fr) == BUILTIN_NAMES[40]


@pytest.mark.parametrize(
    "body",
    [
        "prdtypecode,name_fr,name_en\nabc,X,Y\n,X,Y\n10.5,X,Y\n",
        "code,name_fr,name_en\n10,X,Y\n",  # no prdtypecode column at all
        "",
    ],
)
def test_malformed_rows_are_ignored(tmp_path: Path, body: str) -> None:
    assert load_taxonomy(_categories(tmp_path, body)) == builtin_taxonomy()


def test_unknown_codes_in_categories_csv_are_ignored(tmp_path: Path) -> None:
    tax = load_taxonomy(
        _categories(tmp_path, "prdtypecode,name_fr,name_en\n9999,Inconnu,Unknown\n")
    )
    assert tax.codes == CHALLENGE_CODES


def test_json_round_trip(tmp_path: Path) -> None:
    tax = load_taxonomy(
        _categories(tmp_path, "prdtypecode,name_fr,name_en\n1940,Épicerie fine,Fine food\n")
    )
    restored = Taxonomy.from_json(json.loads(json.dumps(tax.to_json(), ensure_ascii=False)))
    assert restored == tax
    assert restored.codes == tax.codes
    assert restored.categories[tax.index_of(1940)].name_fr == "Épicerie fine"


def test_from_json_reads_codes_written_as_strings() -> None:
    tax = Taxonomy.from_json([{"code": "2060", "name_en": "Decoration", "name_fr": "Décoration"}])
    assert tax.codes == [2060]
    assert 2060 in tax
