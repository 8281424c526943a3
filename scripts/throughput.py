"""Throughput per core, the issue-11 targets, and what a million listings cost on AWS.

Throughput is counted in CPU time, not wall time: listings per CPU-second of this process
(all its threads) is listings per second per core, and it stays meaningful on a shared
machine where wall-clock figures swing with other people's work. Both are reported.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# SageMaker list prices, us-east-1, on-demand, in USD. Source: the SageMaker pricing page
# (aws.amazon.com/sagemaker/pricing), as published since 2023 and written here on 2026-12-03
# without network access: check them before a budget rests on them.
PRICES_AS_OF = "2026-12-03"
# Serverless Inference bills memory x duration per request: $0.0000200 per second per 1024 MB
# (so 3072 MB, dev's setting, is $0.0000600 per second), plus $0.016 per GB in and out.
SERVERLESS_USD_PER_GB_SECOND = 0.0000200
SERVERLESS_USD_PER_GB_DATA = 0.016
# Batch Transform bills instance-hours: ml.m5.xlarge (4 vCPU, 16 GiB), the reclassify step's.
BATCH_INSTANCE = "ml.m5.xlarge"
BATCH_INSTANCE_VCPUS = 4
BATCH_USD_PER_HOUR = 0.23
# Serverless endpoints get CPU in proportion to memory and do not publish how much; Lambda's
# published rule (one vCPU per 1,769 MB) is the assumption here.
SERVERLESS_MB_PER_VCPU = 1769

# Issue 11's goals.
TARGETS = {
    "text_p50_ms_in_process": 20.0,
    "text_listings_per_second_per_2_core_container": 300.0,
    "fast_text_listings_per_second_per_core": 2000.0,
    "cold_start_s": 3.0,
    "serving_image_bytes": 1_000_000_000,
}


def measure(run: Callable[[Sequence[Any]], object], items: Sequence[Any], batch: int) -> dict:
    """Run `items` through `run` `batch` at a time; listings per CPU-second and per second."""
    run(items[:batch])  # warm: lazy loads (e5, the encoder) are not throughput
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(items), batch):
        run(items[start : start + batch])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "listings": len(items),
        "batch": batch,
        "cpu_ms_per_listing": round(1000 * cpu / len(items), 3),
        "listings_per_second_per_core": round(len(items) / cpu, 1),
        "listings_per_second_wall": round(len(items) / wall, 1),
    }


def single_latency(run: Callable[[Sequence[Any]], object], items: Sequence[Any]) -> dict:
    """p50/p99 wall and median CPU milliseconds of one listing at a time."""
    run(items[:1])
    wall, cpu = [], []
    for item in items:
        c, w = time.process_time(), time.perf_counter()
        run([item])
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    ms = sorted(1000 * s for s in wall)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 2),
        "cpu_p50_ms": round(1000 * statistics.median(cpu), 2),
    }


def cost_per_million(cpu_ms_per_listing: float, memory_mb: int, request_bytes: float) -> dict:
    """USD per million listings: serverless (batches of 32, billed by duration at `memory_mb`)
    and Batch Transform on BATCH_INSTANCE, both at the measured CPU cost per listing with
    every vCPU busy (the best case: no idle, no per-request overhead counted)."""
    vcpus = max(memory_mb / SERVERLESS_MB_PER_VCPU, 1e-9)
    serverless_s = 1e6 * cpu_ms_per_listing / 1000 / vcpus
    data_gb = 1e6 * request_bytes / 1e9
    batch_hours = 1e6 * cpu_ms_per_listing / 1000 / BATCH_INSTANCE_VCPUS / 3600
    return {
        "serverless_usd": round(
            serverless_s * SERVERLESS_USD_PER_GB_SECOND * memory_mb / 1024
            + data_gb * SERVERLESS_USD_PER_GB_DATA,
            2,
        ),
        "serverless_memory_mb": memory_mb,
        "batch_transform_usd": round(batch_hours * BATCH_USD_PER_HOUR, 2),
        "batch_transform_instance": BATCH_INSTANCE,
        "prices_as_of": PRICES_AS_OF,
    }


def image_summary(path: Path) -> dict:
    """Image size and cold start as `make images` last measured them (the real serving image,
    container start -> /ping 200 -> first answer), or why there is none."""
    if not path.is_file():
        return {"missing": f"{path} not found: run `make images` first"}
    summary = json.loads(path.read_text())
    return {
        "serving_image_bytes": summary["serving"]["bytes"],
        "serving_cold_start_s": summary.get("serving_cold_start_s"),  # median of the starts
        "serving_cold_starts_s": summary.get("serving_cold_starts_s"),
        # the server's own CPU time by its first /ping 200: what load on a shared host cannot
        # stretch
        "serving_cold_start_cpu_s": summary.get("serving_cold_start_cpu_s"),
        "serving_first_answer_s": summary.get("serving_first_answer_s"),  # median of the starts
        "serving_first_answers_s": summary.get("serving_first_answers_s"),
        "load_1m_at_cold_start": summary.get("serving_cold_start_load_1m"),
        "photo_encoder": summary["serving"].get("photo_encoder", {}).get("class", "TorchEncoder"),
        "engine": summary.get("engine"),
        "measured_by": "make images",
    }


def targets(text_p50_ms: float, text_per_core: float, fast_per_core: float, image: dict) -> dict:
    """Each goal with the measured figure and whether it is met (None: not measured here)."""
    measured: dict[str, float | None] = {
        "text_p50_ms_in_process": text_p50_ms,
        # Two cores, one process each (PRODCAT_WORKERS=2) or the thread pool: at best 2x.
        "text_listings_per_second_per_2_core_container": round(2 * text_per_core, 1),
        "fast_text_listings_per_second_per_core": fast_per_core,
        "cold_start_s": image.get("serving_first_answer_s") or image.get("serving_cold_start_s"),
        "serving_image_bytes": image.get("serving_image_bytes"),
    }
    out = {}
    for name, goal in TARGETS.items():
        value = measured[name]
        lower_is_better = name in {"text_p50_ms_in_process", "cold_start_s", "serving_image_bytes"}
        met = None if value is None else (value <= goal if lower_is_better else value >= goal)
        out[name] = {"goal": goal, "measured": value, "met": met}
    return out
