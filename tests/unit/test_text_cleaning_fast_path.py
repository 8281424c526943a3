"""clean_text skips its per-character pass for printable text: the result must be what the
per-character pass alone gives, for any text."""

from __future__ import annotations

import html
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from prodcat_contracts.text import _INSIDE_WORDS, _MAX_UNESCAPE, _SPACE, _TAG, clean_text


def per_character(raw: str) -> str:
    """The cleaning as it was: every character looked at."""
    if not raw:
        return ""
    text = raw
    for _ in range(_MAX_UNESCAPE):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = unicodedata.normalize("NFC", _TAG.sub(" ", text))
    text = "".join(
        "" if ch in _INSIDE_WORDS else " " if unicodedata.category(ch)[0] == "C" else ch
        for ch in text
    )
    return _SPACE.sub(" ", text).strip()


TRICKY = list("ab é\n\t\r\x00\x1f\x7f\x85\xa0\u00ad\u200b\u200c\u200d\u2028\u2029\u2060\ufeff")
PIECES = st.sampled_from([*TRICKY, "\u3000", "\U000e0001", "\u0378", "&amp;", "&nbsp;", "<br>"])


@settings(max_examples=2000, derandomize=True)
@given(st.lists(PIECES, max_size=16).map("".join))
def test_same_as_the_per_character_pass_on_whitespace_and_invisibles(text: str) -> None:
    assert clean_text(text) == per_character(text)


@settings(max_examples=500, derandomize=True)
@given(st.text(max_size=40))
def test_same_as_the_per_character_pass_on_any_text(text: str) -> None:
    assert clean_text(text) == per_character(text)
