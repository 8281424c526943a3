"""The serving container over loopback HTTP, and training/serving feature parity."""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from inference.predictor import Predictor
from local_runtime.serving import running_server
from prodcat.data import load_listings
from prodcat.features import encode_listing_photos
from prodcat.image_encoder import ONNX_TOLERANCE, OnnxEncoder, default_encoder
from prodcat.model import ProductTypeModel
from prodcat.photos import MAX_PHOTO_BYTES
from prodcat.sample_catalog import draw_photo
from prodcat_contracts.listing import Listing as Request


def jpeg_b64(code: int = 2583, seed: int = 0) -> str:
    buf = io.BytesIO()
    draw_photo(code, random.Random(seed)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def client(model_dir: Path):
    with running_server(model_dir) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def test_ping_reports_the_loaded_model(client: httpx.Client, model_dir: Path) -> None:
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json()["model_version"] == ProductTypeModel.load(model_dir).version


@pytest.mark.parametrize(
    ("body", "modalities"),
    [
        ({"designation": "Piscine hors sol Intex tubulaire", "top_k": 3}, ["text"]),
        ({"photo": jpeg_b64(), "top_k": 5}, ["photo"]),
        ({"designation": "Robot de piscine Zodiac", "photo": jpeg_b64(seed=1)}, ["text", "photo"]),
    ],
)
def test_each_mode_returns_valid_top_k(
    client: httpx.Client, body: dict, modalities: list[str]
) -> None:
    response = client.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    preds = answer["predictions"]
    assert len(preds) == body.get("top_k", 5)
    assert answer["modalities"] == modalities
    probs = [p["probability"] for p in preds]
    assert probs == sorted(probs, reverse=True)
    assert 0 < sum(probs) <= 1 + 1e-6
    assert len({p["code"] for p in preds}) == len(preds)
    assert all(p["name"] and p["name_fr"] for p in preds)


def test_text_listing_gets_its_category_first(client: httpx.Client) -> None:
    answer = client.post(
        "/invocations", json={"designation": "Piscine hors sol tubulaire Bestway"}
    ).json()
    assert answer["predictions"][0]["code"] == 2583


def test_batch_answers_each_listing_in_order(client: httpx.Client) -> None:
    body = {
        "instances": [
            {"designation": "Piscine hors sol Intex"},
            {"photo": jpeg_b64(1140, 4), "top_k": 2},
        ]
    }
    results = client.post("/invocations", json=body).json()["results"]
    assert [r["modalities"] for r in results] == [["text"], ["photo"]]
    assert len(results[1]["predictions"]) == 2


def _bomb_png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (6000, 4000)).save(buf, format="PNG")  # 24 Mpx in a few KB
    return buf.getvalue()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({}, 400, "empty"),
        ({"designation": "   ", "description": ""}, 400, "empty"),
        # Characters, but no text once cleaned: the model would read no input at all (was a 500).
        ({"description": "\ud7fc"}, 400, "empty after removing markup"),
        ({"designation": "<p>&nbsp;</p>", "description": "\u200b"}, 400, "empty after removing"),
        ({"instances": [{"designation": "Chaise"}, {"designation": "<br>"}]}, 400, "instances.1"),
        ({"photo": "not base64!!"}, 400, "base64"),
        ({"photo": base64.b64encode(b"hello, not an image").decode()}, 400, "not a readable image"),
        ({"photo": base64.b64encode(_bomb_png()).decode()}, 413, "pixels"),
        ({"photo": base64.b64encode(b"\xff\xd8" + bytes(MAX_PHOTO_BYTES)).decode()}, 413, "limit"),
        ({"designation": "x", "top_k": 0}, 400, "top_k"),
        ({"designation": "x", "top_k": 28}, 400, "top_k"),
        ({"designation": "x", "colour": "red"}, 400, "colour"),
        ({"instances": []}, 400, "instances"),
    ],
)
def test_bad_input_gets_a_4xx_that_says_what_to_fix(
    client: httpx.Client, body: dict, status: int, says: str
) -> None:
    response = client.post("/invocations", json=body)
    assert response.status_code == status, response.text
    assert says in json.dumps(response.json())


def test_wrong_content_type_and_broken_json_are_4xx(client: httpx.Client) -> None:
    r = client.post("/invocations", content=b"designation=x", headers={"content-type": "text/csv"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    r = client.post(
        "/invocations", content=b'{"designation": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_training_and_serving_build_identical_features(sample_data: Path, model_dir: Path) -> None:
    """The classic skew bug: the same listing must give the same features on both paths."""
    model = ProductTypeModel.load(model_dir)
    listings, report = load_listings(sample_data, model.taxonomy)
    raw_rows = {}
    import csv

    with (sample_data / "X_train.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            raw_rows[row["productid"]] = row
    sample = [x for x in listings if x.has_photo and x.has_text][:5]
    train_feats = encode_listing_photos(sample, default_encoder(), report, progress=False)
    requests = [
        Request(
            designation=raw_rows[x.product_id]["designation"],
            description=raw_rows[x.product_id]["description"],
            photo=base64.b64encode(x.photo.read_bytes()).decode(),  # type: ignore[union-attr]
        )
        for x in sample
    ]
    predictor = Predictor(model_dir)
    serve_texts, serve_feats = predictor.features(requests)
    assert serve_texts == [x.text for x in sample]
    # Training encodes on torch, serving on onnxruntime (prodcat.image_encoder): the same
    # features within the stated tolerance, and the same top-5.
    assert isinstance(predictor.encoder, OnnxEncoder)
    for a, b in zip(train_feats, serve_feats, strict=True):
        assert a is not None and b is not None
        np.testing.assert_allclose(a, b, rtol=0, atol=ONNX_TOLERANCE)
    trained, _ = model.predict_proba(serve_texts, list(train_feats))
    served, _ = model.predict_proba(serve_texts, serve_feats)
    np.testing.assert_array_equal(
        np.argsort(-trained, axis=1)[:, :5], np.argsort(-served, axis=1)[:, :5]
    )
