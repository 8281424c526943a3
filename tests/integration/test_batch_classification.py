"""Catalogue batch classification with the real model: JSON Lines on /invocations (the Batch
Transform contract) and `prodcat batch` on a challenge-format directory, resumed after a crash."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import inference.server
from inference.batch import DirectoryPhotos, classify_lines
from inference.predictor import Predictor
from prodcat import batch
from prodcat.data import index_photos
from prodcat_cli.cli import main


def _post(app: FastAPI, body: bytes, ctype: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://model") as client:
            return await client.post("/invocations", content=body, headers={"content-type": ctype})

    return asyncio.run(call())


@pytest.fixture(scope="module")
def lake(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local copy of the lake: the sample catalogue under raw/base/."""
    root = tmp_path_factory.mktemp("lake")
    shutil.copytree(sample_data, root / "raw" / "base")
    return root


@pytest.fixture(scope="module")
def app(model_dir: Path, lake: Path) -> FastAPI:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRODCAT_LAKE_DIR", str(lake))
        return inference.server.create_app(model_dir)


def _photo_key(lake: Path) -> str:
    path = next(iter(index_photos(lake / "raw").values()))
    return path.relative_to(lake).as_posix()


def test_json_lines_answer_one_line_per_line_in_order_with_errors_as_lines(
    app: FastAPI, lake: Path
) -> None:
    key = _photo_key(lake)
    jpeg = (lake / key).read_bytes()
    broken_jpeg = jpeg[: len(jpeg) // 2]
    lines = [
        {"id": "a", "designation": "Lot de 3 mugs en céramique", "top_k": 3},
        {"id": 7, "photo": base64.b64encode(jpeg).decode()},
        {"id": "k", "designation": "jouet", "photo_key": key},
        {"id": "empty", "designation": "<br>"},
        {"id": "topk", "designation": "livre", "top_k": 99},
        {"id": "bad-photo", "photo": base64.b64encode(broken_jpeg).decode()},
        {"id": "outside", "photo_key": "curated/run/x.jpg"},
        {"id": "climb", "photo_key": "raw/../models/production/metrics.json"},
        {"id": "missing", "photo_key": "raw/base/none.jpg"},
        {"id": "both", "photo": base64.b64encode(jpeg).decode(), "photo_key": key},
        {"designation": "no id"},
        {"id": "x", "unknown": 1},
    ]
    body = b"\n".join(json.dumps(x).encode() for x in lines) + b"\n{not json\n\n[1]\n"
    answer = _post(app, body, "application/jsonlines")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/jsonlines")
    out = [json.loads(line) for line in answer.content.splitlines()]
    assert len(out) == len(lines) + 3
    assert [o["id"] for o in out[:12]] == [x.get("id") for x in lines]
    version = app.state.predictor.model.version
    assert all(o["model_version"] == version for o in out)
    assert len(out[0]["predictions"]) == 3 and out[0]["modalities"] == ["text"]
    assert out[1]["modalities"] == ["photo"] and out[2]["modalities"] == ["text", "photo"]
    statuses = {o["id"]: o["status"] for o in out[:12] if "error" in o}
    assert statuses == {
        "empty": 400,
        "topk": 400,
        "bad-photo": 400,
        "outside": 400,
        "climb": 400,
        "missing": 400,
        "both": 400,
        None: 400,
        "x": 400,
    }
    assert "raw zone" in out[6]["error"] and "not both" in out[9]["error"]
    assert out[4]["details"][0]["field"] == "top_k"
    assert [o["status"] for o in out[12:]] == [400, 400, 400]
    assert "not valid JSON" in out[12]["error"] and "empty" in out[13]["error"]


def test_a_line_answers_what_the_json_contract_answers(app: FastAPI, lake: Path) -> None:
    listing = {"designation": "Figurine Star Wars", "description": "<b>neuve</b>", "top_k": 4}
    single = _post(app, json.dumps(listing).encode(), "application/json").json()
    line = _post(app, json.dumps({"id": "1", **listing}).encode(), "application/jsonlines")
    assert json.loads(line.content) == {"id": "1", **single}


def test_json_lines_refuse_a_body_over_the_limit_and_lines_over_the_policy(app: FastAPI) -> None:
    big = b'{"id":"1","designation":"' + b"a" * (7 * 1024 * 1024) + b'"}\n'
    answer = _post(app, big, "application/jsonlines")
    assert answer.status_code == 413 and "MaxPayloadInMB" in answer.json()["error"]
    nested = b'{"id":"n","designation":' + b"[" * 50 + b"]" * 50 + b"}\n"
    out = json.loads(_post(app, nested, "application/jsonlines").content)
    assert out["status"] == 400 and "nests deeper" in out["error"]


def test_batch_classifies_a_catalogue_into_parts_and_resumes_after_a_crash(
    model_dir: Path, sample_data: Path, tmp_path: Path
) -> None:
    total = batch.count_rows(sample_data)
    predictor = Predictor(model_dir)
    photos = DirectoryPhotos(sample_data, raw_prefix="")
    calls: list[int] = []

    def classify(lines: list[bytes]) -> list[dict[str, Any]]:
        calls.append(len(lines))
        if len(calls) == 3 and crash:
            raise RuntimeError("killed")
        return classify_lines(lines, predictor, inference.server.POLICY, photos)

    crash = True
    store = batch.DirectoryParts(tmp_path / "out")
    with pytest.raises(RuntimeError):
        batch.run_batch(batch.local_catalogue(sample_data), store, classify, "v1", part_rows=20)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.done")) == [
        "part-00000.done",
        "part-00001.done",
    ]
    assert not (tmp_path / "out" / batch.SUCCESS).exists()
    crash, calls[:] = False, []
    summary = batch.run_batch(
        batch.local_catalogue(sample_data), store, classify, "v1", part_rows=20
    )
    assert summary.parts_skipped == 2 and summary.rows == total
    assert sum(calls) == total - 40  # only the parts not done were classified again
    answers = [
        json.loads(line)
        for part in sorted((tmp_path / "out").glob("part-*.jsonl"))
        for line in part.read_text().splitlines()
    ]
    ids = [x["id"] for x in batch.local_catalogue(sample_data)]
    assert [a["id"] for a in answers] == ids
    assert all(a["model_version"] == predictor.model.version for a in answers)
    # Another model is not "done": every part is classified again.
    calls[:] = []
    again = batch.run_batch(batch.local_catalogue(sample_data), store, classify, "v2", part_rows=20)
    assert again.parts_skipped == 0 and sum(calls) == total
    # A run that dies takes the previous run's success marker with it: it no longer holds.
    crash, calls[:] = True, []
    with pytest.raises(RuntimeError):
        batch.run_batch(batch.local_catalogue(sample_data), store, classify, "v3", part_rows=20)
    assert not (tmp_path / "out" / batch.SUCCESS).exists()


def test_prodcat_batch_command_end_to_end(
    model_dir: Path, sample_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "predictions"
    assert main(["--quiet", "batch", "--data", str(sample_data), "--out", str(out),
                 "--model-dir", str(model_dir), "--part-rows", "50"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == batch.count_rows(sample_data) and summary["errors"] == 0
    assert json.loads((out / batch.SUCCESS).read_text())["rows"] == summary["rows"]
    first = json.loads((out / "part-00000.jsonl").read_text().splitlines()[0])
    assert first["predictions"][0]["probability"] > 0
    assert main(["batch", "--data", str(sample_data), "--out", str(out)]) == 2
