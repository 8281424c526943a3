"""The benchmark's cost arithmetic and target verdicts (scripts/throughput.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import throughput as tp


def test_cost_per_million_from_cpu_time_and_list_prices() -> None:
    # 10 CPU-ms per listing: 10,000 CPU-s per million.
    cost = tp.cost_per_million(10.0, memory_mb=3538, request_bytes=1000)
    # 3538 MB is two vCPUs by Lambda's rule: 5,000 s billed at 3538/1024 GB, plus 1 GB of data.
    expected = 5000 * tp.SERVERLESS_USD_PER_GB_SECOND * 3538 / 1024 + tp.SERVERLESS_USD_PER_GB_DATA
    assert cost["serverless_usd"] == pytest.approx(expected, abs=0.01)
    # Batch: 10,000 CPU-s over 4 vCPUs is 2,500 s of one instance.
    assert cost["batch_transform_usd"] == pytest.approx(
        2500 / 3600 * tp.BATCH_USD_PER_HOUR, abs=0.01
    )
    assert cost["prices_as_of"] == tp.PRICES_AS_OF


def test_targets_say_met_or_not_and_name_what_was_not_measured() -> None:
    image = {"serving_image_bytes": 1_564_467_855, "serving_cold_start_s": 2.5}
    goals = tp.targets(text_p50_ms=35.0, text_per_core=20.0, fast_per_core=2500.0, image=image)
    assert goals["text_p50_ms_in_process"] == {"goal": 20.0, "measured": 35.0, "met": False}
    assert goals["text_listings_per_second_per_2_core_container"]["measured"] == 40.0
    assert goals["text_listings_per_second_per_2_core_container"]["met"] is False
    assert goals["fast_text_listings_per_second_per_core"]["met"] is True
    assert goals["cold_start_s"]["met"] is True
    assert goals["serving_image_bytes"]["met"] is False
    unmeasured = tp.targets(35.0, 20.0, 2500.0, tp.image_summary(Path("/nonexistent.json")))
    assert unmeasured["cold_start_s"]["met"] is None


def test_image_summary_reads_what_make_images_wrote(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(
        json.dumps(
            {
                "engine": "podman",
                "serving": {"bytes": 123, "photo_encoder": {"class": "OnnxEncoder"}},
                "serving_cold_start_s": 4.4,
                "serving_first_answer_s": 4.9,
                "serving_cold_start_load_1m": 7.5,
            }
        )
    )
    summary = tp.image_summary(path)
    assert summary["serving_image_bytes"] == 123
    assert summary["serving_first_answer_s"] == 4.9
    assert summary["photo_encoder"] == "OnnxEncoder" and summary["load_1m_at_cold_start"] == 7.5
    assert "make images" in tp.image_summary(tmp_path / "none.json")["missing"]


def test_measure_counts_listings_per_cpu_second() -> None:
    # Enough work per listing (about 0.3 CPU-ms) that rounding cpu_ms_per_listing to 3 decimals
    # stays well inside the 1% below: at 20,000 squares a batch (0.03 ms a listing) it did not.
    def busy(batch: object) -> None:
        sum(i * i for i in range(200_000))

    rates = tp.measure(busy, list(range(64)), batch=32)
    assert rates["listings"] == 64
    assert rates["cpu_ms_per_listing"] > 0
    assert rates["listings_per_second_per_core"] == pytest.approx(
        1000 / rates["cpu_ms_per_listing"], rel=0.01
    )
