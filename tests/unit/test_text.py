"""clean_text / listing_text: what the text model reads, identical in training and serving."""

from __future__ import annotations

import ast
import json
import random
import sys
import unicodedata
from pathlib import Path

import pytest

import prodcat_contracts.text
from prodcat_contracts.text import clean_text, has_text, listing_text

# Listings with characters but no text (one per line, as JSON escapes show them): each cleans
# to "" and so is refused, or read as a photo alone, everywhere: the schema, the container, the
# API, /products and training. The first is the body Hypothesis found, an unassigned code point
# that once went through the schema and crashed the model server.
NO_TEXT = json.loads(
    (Path(__file__).parents[1] / "events" / "listings_without_text.json").read_text()
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   \n\t ", ""),
        ("<p>Hello <b>world</b></p>", "Hello world"),
        # A tag is a word boundary: `foo<br>bar` must not glue into one token.
        ("foo<br>bar<br/>baz", "foo bar baz"),
        ('<div class="x">Table <i>basse</i></div>', "Table basse"),
        ("Caf&eacute; cr&egrave;me &agrave; l&#39;ancienne", "Café crème à l'ancienne"),
        # Escaped twice (the challenge data has these) and three times.
        ("&amp;eacute;t&amp;eacute;", "été"),
        ("&amp;amp;eacute;t&amp;amp;eacute;", "été"),
        # Markup that was itself escaped is still markup, not text.
        ("&lt;b&gt;Neuf&lt;/b&gt; en bo&icirc;te", "Neuf en boîte"),
        ("Produit neuf&nbsp;: comme neuf", "Produit neuf : comme neuf"),
        ("  line one\n\n\tline two  \r\n", "line one line two"),
        ("a\x00b\x07c\x1bd", "a b c d"),
        ("zero\u200bwidth", "zero width"),
        ("Great condition &amp; fast shipping", "Great condition & fast shipping"),
        ("Tom & Jerry", "Tom & Jerry"),
    ],
)
def test_clean_text(raw: str | None, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Œuvres complètes d'Émile Zola, édition reliée - 12,50 €",
        "Größe 42: Übergröße für Männer, schneller Versand",
        "Gesellschaftsspiel für 2–6 Spieler « stratégie »",
        "Wireless controller, 2.4 GHz - works with PS4/PC",
        "Pokémon Yu-Gi-Oh! N° 133 — 1/10 brushless 100% coton",
    ],
)
def test_plain_multilingual_text_is_kept_intact(text: str) -> None:
    assert clean_text(text) == text


def test_decomposed_accents_are_normalised_to_nfc() -> None:
    decomposed = "e\u0301te\u0301 U\u0308ber"  # été Über with combining marks
    out = clean_text(decomposed)
    assert out == "\u00e9t\u00e9 \u00dcber"
    # Training and serving must see the same code points whatever the client sent.
    assert clean_text("\u00e9t\u00e9 \u00dcber") == out


def test_escaped_comparison_signs_are_text_not_tags() -> None:
    out = clean_text("Taille &lt; 10 cm, poids &gt; 2 kg")
    assert "10 cm" in out
    assert "2 kg" in out


def test_soft_hyphen_does_not_split_words() -> None:
    assert clean_text("Gesellschafts&shy;spiel aus Holz") == "Gesellschaftsspiel aus Holz"


# Pieces the real descriptions are made of, plus the characters that break tokenisers.
_PIECES = [
    "Chaise",
    "Größe",
    "été",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\x00",
    "\x0b",
    "\x1f",
    "\x7f",
    "\x85",
    "\xa0",
    "\u2028",
    "\u200b",
    "\ufeff",
    "\u00ad",
    "<br>",
    "<p>",
    "</p>",
    "&nbsp;",
    "&amp;",
    "&amp;nbsp;",
    "&#10;",
    "&#x9;",
    "&lt;",
    "&gt;",
    "<",
    ">",
    "&",
    ";",
    "e\u0301",
]


def test_output_is_single_spaced_and_free_of_control_characters() -> None:
    rng = random.Random(0)
    for _ in range(500):
        raw = "".join(rng.choice(_PIECES) for _ in range(rng.randrange(0, 25)))
        out = clean_text(raw)
        assert out == out.strip(), raw
        assert "  " not in out, raw
        assert not any(unicodedata.category(ch).startswith("C") for ch in out), raw
        assert not any(ch.isspace() and ch != " " for ch in out), raw


@pytest.mark.parametrize(
    ("designation", "description", "expected"),
    [
        ("Chaise en chêne", "<p>Lot de 2</p>", "Chaise en chêne . Lot de 2"),
        ("Chaise en chêne", "", "Chaise en chêne"),
        ("Chaise en chêne", None, "Chaise en chêne"),
        # A description that is only markup is empty: no dangling separator.
        ("Chaise en chêne", "<br /> &nbsp; <p></p>", "Chaise en chêne"),
        ("", "Lot de 2 chaises", "Lot de 2 chaises"),
        (None, "Lot de 2 chaises", "Lot de 2 chaises"),
        ("", "", ""),
        (None, None, ""),
        ("<b>Caf&amp;eacute;</b>", "Moulu &amp;amp; bio", "Café . Moulu & bio"),
    ],
)
def test_listing_text(designation: str | None, description: str | None, expected: str) -> None:
    assert listing_text(designation, description) == expected


@pytest.mark.parametrize("body", NO_TEXT, ids=json.dumps)
def test_text_that_cleans_to_nothing_is_no_text(body: dict[str, str]) -> None:
    designation, description = body.get("designation"), body.get("description")
    assert (designation or description or "").strip()  # not blank to a naive check
    assert listing_text(designation, description) == ""
    assert not has_text(designation, description)


@pytest.mark.parametrize(
    ("designation", "description"),
    [("Chaise", None), (None, "<p>Lot de 2</p>"), ("<br>", "x"), ("\u200bA", None), ("0", None)],
)
def test_one_word_is_text(designation: str | None, description: str | None) -> None:
    assert has_text(designation, description)


def test_has_text_is_exactly_what_the_model_reads_as_text() -> None:
    rng = random.Random(1)
    for _ in range(500):
        title = "".join(rng.choice(_PIECES) for _ in range(rng.randrange(0, 6)))
        body = "".join(rng.choice(_PIECES) for _ in range(rng.randrange(0, 6)))
        assert has_text(title, body) == bool(listing_text(title, body)), (title, body)


def test_text_cleaning_needs_only_the_standard_library() -> None:
    # The API's Lambda zip carries prodcat_contracts/text.py (the listing schema validates with it) and
    # no third-party package but what the Powertools layer brings.
    tree = ast.parse(Path(prodcat_contracts.text.__file__).read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported
