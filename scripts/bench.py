"""`make bench`: accuracy on a stratified held-out split, training time, load time, artifact
size, p50/p99 latency per mode (in-process, over HTTP, and through the local API: one client,
then 1, 10 and 50 concurrent clients), batched throughput, listings per second per core per
mode and profile (default, fast, and the default on 6 of e5's layers), the serving image's
size and cold start (from `make images`), the cost of a million listings on AWS, and issue 11's
targets, as JSON."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from inference.predictor import Predictor
from local_runtime.gateway import TokenBucket
from local_runtime.serving import running_server
from local_runtime.stack import LocalStack
from prodcat.data import Listing, load_listings
from prodcat.evaluation import evaluate
from prodcat.metrics import classification_metrics
from prodcat.model import Hyperparameters
from prodcat.sample_catalog import write_sample_catalog
from prodcat.splits import stratified_split, write_listings
from prodcat.training import train
from prodcat_contracts.listing import Listing as Request
from prodcat_contracts.taxonomy import load_taxonomy
from scripts import throughput as tp


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.median(ms)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


CONCURRENT_CLIENTS = (1, 10, 50)
# Models besides the default, each trained on the same split: the fast profile (README:
# "Profiles") and e5 on its first 6 layers (README: "How many layers e5 runs").
VARIANTS = {"fast": "profile=fast", "e5_layers=6": "e5_layers=6"}


async def _concurrent(
    url: str, headers: dict[str, str], bodies: list[dict[str, str]], clients: int
) -> dict[str, float | int]:
    """`clients` callers, each posting its next body as soon as its last answer came back."""
    pending = list(reversed(bodies))
    samples: list[float] = []
    statuses: dict[int, int] = {}

    async def caller() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
            while pending:
                body = pending.pop()
                t = time.perf_counter()
                answer = await http.post("/predict", json=body)
                samples.append(time.perf_counter() - t)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        **percentiles(samples),
        "requests_per_second": round(len(samples) / elapsed, 1),
        "non_200": sum(n for status, n in statuses.items() if status != 200),
    }


def api_latency(model_dir: Path, bodies: dict[str, list[dict[str, str]]]) -> dict[str, dict]:
    """POST /predict through the local stack: gateway, token check, handler, endpoint, and the
    request log and capture writes (moto): what the website waits for, less the network. One
    client per mode, then the modes mixed under 1, 10 and 50 concurrent clients (the handlers
    run in up to 10 instances per function, as a new account's Lambda quota allows; a request
    waits for a free one rather than being throttled, so the figures show queueing)."""
    with LocalStack(
        model_dir, throttle=TokenBucket(rate=10_000, burst=10_000), wait_seconds=120
    ) as stack:
        assert stack.resources is not None
        api = httpx.Client(
            base_url=stack.resources.api_url,
            headers={"x-api-key": stack.resources.api_key},
            timeout=60,
        )
        user = {"email": "bench@example.com", "password": "Bench-passw0rd-1"}
        api.post("/register", json=user).raise_for_status()
        api.post("/confirm", json={"email": user["email"], "code": "0"}).raise_for_status()
        token = api.post("/login", json=user).json()["id_token"]
        out: dict[str, dict[str, Any]] = {}
        for mode, reqs in bodies.items():
            samples = []
            for body in reqs:
                t = time.perf_counter()
                api.post("/predict", json=body, headers={"Authorization": token}).raise_for_status()
                samples.append(time.perf_counter() - t)
            out[mode] = percentiles(samples)
        mixed = [body for group in zip(*bodies.values(), strict=False) for body in group]
        headers = {"x-api-key": stack.resources.api_key, "Authorization": token}
        out["concurrent_clients"] = {
            str(n): asyncio.run(_concurrent(stack.resources.api_url, headers, mixed, n))
            for n in CONCURRENT_CLIENTS
        }
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=None, help="challenge-format dir (default: generated)"
    )
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--requests", type=int, default=200, help="latency samples per mode")
    parser.add_argument("--work", type=Path, default=Path(".work/bench"))
    parser.add_argument(
        "--images-summary",
        type=Path,
        default=Path(".work/images/summary.json"),
        help="what `make images` measured: image size, cold start",
    )
    parser.add_argument(
        "--serverless-memory-mb", type=int, default=3072, help="for the cost (dev's setting)"
    )
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    data = args.data or write_sample_catalog(args.work / "generated", per_class=20, seed=5)

    taxonomy = load_taxonomy(data)
    listings, _ = load_listings(data, taxonomy)
    train_rows, test_rows = stratified_split(listings, args.test_size, seed=0)
    for name, rows in (("train", train_rows), ("test", test_rows)):
        write_listings(rows, args.work / name)
        if (data / "categories.csv").is_file():
            shutil.copy(data / "categories.csv", args.work / name)

    started = time.perf_counter()
    model = train(args.work / "train", progress=False).model
    training_s = time.perf_counter() - started
    model.save(args.work / "model")
    size = sum(f.stat().st_size for f in (args.work / "model").iterdir())

    predictor = Predictor(args.work / "model")  # the encoder is already loaded: model load only
    evaluation = evaluate(predictor.model, args.work / "test", progress=False)
    metrics = {k: v for k, v in evaluation.metrics.items() if k not in {"data", "model_version"}}
    # The fusion's gain, on the same rows: text alone on the rows that also have a photo.
    both = [x for x in test_rows if x.has_text and x.photo is not None]
    if both:
        probs, _ = predictor.model.predict_proba([x.text for x in both], [None] * len(both))
        y = np.array([taxonomy.index_of(int(x.label or 0)) for x in both])
        metrics["text_only_on_text_image_rows"] = classification_metrics(probs, y, len(taxonomy))

    def request(x: Listing, mode: str) -> dict[str, str]:
        body: dict[str, str] = {}
        if mode != "image_only":
            # The request limits: 1,000 characters of title, 20,000 of description.
            body["designation"], body["description"] = x.text[:1000], x.text[1000:21000]
        if mode != "text_only" and x.photo is not None:
            body["photo"] = base64.b64encode(x.photo.read_bytes()).decode()
        return body

    pools = {
        "text_only": [x for x in test_rows if x.has_text],
        "image_only": [x for x in test_rows if x.photo is not None],
        "text_image": both,
    }
    latency: dict[str, dict] = {"in_process": {}, "http": {}}
    bodies = {
        m: [request(pool[i % len(pool)], m) for i in range(args.requests)]
        for m, pool in pools.items()
        if pool
    }
    for mode, reqs in bodies.items():
        samples = []
        for body in reqs:
            t = time.perf_counter()
            predictor.predict([Request.model_validate(body)])
            samples.append(time.perf_counter() - t)
        latency["in_process"][mode] = percentiles(samples)

    with (
        running_server(args.work / "model") as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        for mode, reqs in bodies.items():
            samples = []
            for body in reqs:
                t = time.perf_counter()
                client.post("/invocations", json=body).raise_for_status()
                samples.append(time.perf_counter() - t)
            latency["http"][mode] = percentiles(samples)
        throughput = {}
        for mode, reqs in bodies.items():
            batch = {"instances": reqs[:32]}
            t = time.perf_counter()
            rounds = 5
            for _ in range(rounds):
                client.post("/invocations", json=batch).raise_for_status()
            throughput[mode] = round(
                rounds * len(batch["instances"]) / (time.perf_counter() - t), 1
            )

    latency["api"] = api_latency(args.work / "model", bodies)

    # Per core, per mode and profile: the serving path (request -> features -> probabilities)
    # in batches of 32, in CPU time. The fast profile, and the default with half of e5's layers
    # (the setting for a catalogue's reclassification), are their own models, trained the same way.
    profiles = {"default": predictor}
    variant_metrics = {}
    for name, variant in VARIANTS.items():
        variant_dir = args.work / f"model-{name.replace('=', '-')}"
        hp = Hyperparameters.from_json(dict([variant.split("=")]))
        train(args.work / "train", hp, progress=False).model.save(variant_dir)
        profiles[name] = Predictor(variant_dir, encoder=predictor.encoder)
        variant_metrics[name] = {
            "metrics": {
                k: v
                for k, v in evaluate(
                    profiles[name].model, args.work / "test", progress=False
                ).metrics.items()
                if k not in {"data", "model_version"}
            },
            "hyperparameters": variant,
        }

    def run_with(p: Predictor) -> Any:
        return lambda bodies: p.predict([Request.model_validate(b) for b in bodies])

    per_core = {
        profile: {mode: tp.measure(run_with(p), reqs, batch=32) for mode, reqs in bodies.items()}
        for profile, p in profiles.items()
    }
    single = {
        profile: tp.single_latency(run_with(p), bodies["text_only"][: args.requests])
        for profile, p in profiles.items()
        if "text_only" in bodies
    }
    image = tp.image_summary(args.images_summary)
    text_bytes = statistics.mean(len(json.dumps(b)) for b in bodies.get("text_only", [{}]))
    cost = {
        profile: tp.cost_per_million(
            rates["text_only"]["cpu_ms_per_listing"], args.serverless_memory_mb, text_bytes
        )
        for profile, rates in per_core.items()
        if "text_only" in rates
    }
    goals = (
        tp.targets(
            single["default"]["p50_ms"],
            per_core["default"]["text_only"]["listings_per_second_per_core"],
            per_core["fast"]["text_only"]["listings_per_second_per_core"],
            image,
        )
        if "text_only" in bodies
        else {}
    )

    load_times = []
    for _ in range(5):
        load_times.append(Predictor(args.work / "model", encoder=predictor.encoder).load_seconds)
    print(
        json.dumps(
            {
                "data": str(data),
                "rows": {"train": len(train_rows), "test": len(test_rows)},
                "metrics": metrics,
                "training_seconds": round(training_s, 1),
                "model_load_seconds_median": round(statistics.median(load_times), 3),
                "artifact_bytes": size,
                "latency": latency,
                "batch32_listings_per_second": throughput,
                "profiles": variant_metrics,
                "text_single_listing_in_process": single,
                "listings_per_second_per_core": per_core,
                "serving_image": image,
                "cost_per_million_text_listings": cost,
                "targets": goals,
                "model_version": predictor.model.version,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
