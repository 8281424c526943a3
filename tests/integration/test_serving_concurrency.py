"""The serving container scores listings off its event loop: /ping and other requests are
answered while a prediction runs, as SageMaker's health checks need."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

import inference.server
from inference.server import create_app
from local_runtime.serving import serve_app


def test_ping_and_a_second_prediction_answer_while_one_is_scored(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inference.server, "PREDICT_THREADS", 2)
    app = create_app(model_dir)
    predictor = app.state.predictor
    real_predict = predictor.predict
    entered, release = threading.Event(), threading.Event()

    def held_predict(listings: list) -> list:
        if listings[0].designation == "hold":
            entered.set()
            assert release.wait(30), "the test never released the held prediction"
        return real_predict(listings)

    predictor.predict = held_predict
    with (
        serve_app(app, name="inference") as url,
        httpx.Client(base_url=url, timeout=20) as client,
        ThreadPoolExecutor(1) as caller,
    ):
        held = caller.submit(client.post, "/invocations", json={"designation": "hold"})
        assert entered.wait(20)
        try:
            assert client.get("/ping", timeout=5).status_code == 200
            other = client.post(
                "/invocations", json={"designation": "Piscine tubulaire"}, timeout=10
            )
            assert other.status_code == 200, other.text
            assert not held.done()
        finally:
            release.set()
        assert held.result(timeout=20).status_code == 200


def test_e5_gives_the_same_embeddings_from_concurrent_threads() -> None:
    """The pool runs e5 from several threads on one process-wide model."""
    from prodcat.text_encoder import embed_texts

    texts = [f"Piscine tubulaire {i} x 76 cm, bâche et pompe" for i in range(8)]
    alone = [embed_texts([t]) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: embed_texts([t]), texts * 3))
    for i, got in enumerate(together):
        np.testing.assert_array_equal(got, alone[i % len(texts)])
