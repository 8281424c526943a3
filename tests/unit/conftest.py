"""Shared helpers for the unit tests: photo bytes, challenge-format directories built in
tmp_path, and a serving container whose model must never be reached.

Helpers are exposed as fixtures (tests/infra has its own conftest.py, so `from conftest import`
would be ambiguous).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

import inference.server


def image_bytes(
    fmt: str = "JPEG",
    size: tuple[int, int] = (64, 48),
    color: int | tuple[int, ...] = (200, 30, 30),
    mode: str = "RGB",
    **save_kwargs: object,
) -> bytes:
    """A solid image encoded in `fmt`."""
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, fmt, **save_kwargs)
    return buf.getvalue()


def noisy_jpeg(size: tuple[int, int] = (256, 256)) -> bytes:
    """A JPEG with real entropy, so a truncated copy is missing scan data, not just trailer bytes."""
    buf = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    data = noisy_jpeg()
    return data[: len(data) // 2]


@dataclass(frozen=True)
class Row:
    """One X row; `label` is what goes in Y (str or int), or None for no Y row at all."""

    index: str
    designation: str
    description: str
    productid: str
    imageid: str
    label: str | int | None = 10


def _str_or_none(v: object) -> object:
    return v if v is None or isinstance(v, int) else str(v)


def write_challenge_dir(
    root: Path,
    rows: Iterable[Row | tuple[object, ...]],
    *,
    split: str = "train",
    with_y: bool = True,
    y_reversed: bool = False,
    photos: Mapping[tuple[str, str], bytes] | None = None,
    x_header: list[str] | None = None,
    images_only: list[list[str]] | None = None,
) -> Path:
    """Write X_<split>.csv, Y_<split>.csv and photos `images/image_<split>/image_<i>_product_<p>.jpg`.

    A row is a `Row` or a tuple `(index, designation, description, productid, imageid[, label])`.
    `photos` maps (imageid, productid) to the file's bytes. `images_only` rows are
    `[index, productid, imageid, prdtypecode]`.
    """
    root.mkdir(parents=True, exist_ok=True)
    rows = [r if isinstance(r, Row) else Row(*map(_str_or_none, r)) for r in rows]
    header = x_header or ["", "designation", "description", "productid", "imageid"]
    with (root / f"X_{split}.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            full = {
                "": r.index,
                "designation": r.designation,
                "description": r.description,
                "productid": r.productid,
                "imageid": r.imageid,
            }
            w.writerow([full.get(col, "") for col in header])
    if with_y:
        labelled = [r for r in rows if r.label is not None]
        if y_reversed:
            labelled.reverse()
        with (root / f"Y_{split}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["", "prdtypecode"])
            for r in labelled:
                w.writerow([r.index, r.label])
    photo_dir = root / "images" / f"image_{split}"
    photo_dir.mkdir(parents=True, exist_ok=True)
    for (image_id, product_id), data in (photos or {}).items():
        (photo_dir / f"image_{image_id}_product_{product_id}.jpg").write_bytes(data)
    if images_only is not None:
        with (root / "images_only.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["", "productid", "imageid", "prdtypecode"])
            w.writerows(images_only)
    return root


@pytest.fixture
def make_image() -> Callable[..., bytes]:
    return image_bytes


@pytest.fixture
def jpeg() -> bytes:
    return image_bytes("JPEG")


@pytest.fixture
def broken_jpeg() -> bytes:
    return truncated_jpeg()


@pytest.fixture
def make_noisy_jpeg() -> Callable[..., bytes]:
    return noisy_jpeg


@pytest.fixture
def write_dataset() -> Callable[..., Path]:
    return write_challenge_dir


class _StubModel:
    version = "stub"


class RefusingPredictor:
    """Stands in for the loaded model in tests of requests the container must refuse first."""

    def __init__(self, model_dir: Path) -> None:
        self.model = _StubModel()
        self.load_seconds = 0.0
        self.calls: list[Any] = []

    def predict(self, listings: list[Any]) -> list[Any]:
        self.calls.append(listings)
        raise AssertionError("a request the container must refuse reached the model")


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FastAPI:
    """The real serving app (inference.server) over RefusingPredictor."""
    monkeypatch.setattr(inference.server, "Predictor", RefusingPredictor)
    return inference.server.create_app(tmp_path)


def post_invocations(app: FastAPI, body: bytes) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://model") as client:
            return await client.post(
                "/invocations", content=body, headers={"content-type": "application/json"}
            )

    return asyncio.run(call())


@pytest.fixture
def invoke() -> Callable[[FastAPI, bytes], httpx.Response]:
    """POST raw bytes to the app's /invocations as application/json."""
    return post_invocations


def tiny_training_set(rows_per_class: int) -> Any:
    """Every class of the built-in taxonomy with `rows_per_class` listings: words that name the
    class, no e5, and 8-number "photo features" that tell apart its index modulo 5."""
    import numpy as np

    from prodcat.text_encoder import E5_DIM
    from prodcat.training import TrainingSet
    from prodcat_contracts.taxonomy import builtin_taxonomy

    rng = np.random.default_rng(5)
    taxonomy = builtin_taxonomy()
    y = np.repeat(np.arange(len(taxonomy)), rows_per_class)
    words = [f"mot{c} commun{rng.integers(3)}" for c in y]
    photos: list[Any] = [rng.normal(c % 5, 1.0, 8) for c in y]
    return TrainingSet(taxonomy, y, words, np.zeros((len(y), E5_DIM)), photos)


@pytest.fixture(scope="session")
def tiny_data() -> Callable[[int], Any]:
    """`tiny_training_set`: a small TrainingSet with text and photos for every class."""
    return tiny_training_set
