"""Concurrency through the local stack: handlers run as concurrent Lambda instances (one process
each, at most `concurrency` per function), so the races between instances happen here as they
do in AWS, and a function at its limit is throttled the way API Gateway shows it (a 500).

The load test is bounded for a shared 2-core machine: LOAD_CLIENTS clients, LOAD_REQUESTS mixed
requests (predict text/photo/both, logs, feedback); every 200 /predict must have its request-log
item, under its own caller, and its capture record, and nothing may answer 5xx. The model
server answers one listing at a time, so more clients only lengthen the queue at the model; and
moto, in this process, slows past the API's 1 s DynamoDB read timeout (a 503) at ~100 clients
on a loaded machine. PRODCAT_LOAD_CLIENTS=100 PRODCAT_LOAD_REQUESTS=1000 runs the full size.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import random
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from lambdas.api.request_log import request_id_of
from local_runtime.gateway import Authorizer, LocalGateway, TokenBucket, UserPool
from local_runtime.serving import serve_app
from local_runtime.stack import LocalResources, LocalStack
from prodcat.sample_catalog import draw_photo
from prodcat_contracts.lake import capture_key

PASSWORD = "Corr3ct-horse-battery"
LOAD_CLIENTS = int(os.environ.get("PRODCAT_LOAD_CLIENTS", "25"))
LOAD_REQUESTS = int(os.environ.get("PRODCAT_LOAD_REQUESTS", "150"))
SELLERS = 10


def _photo(code: int, seed: int) -> str:
    buf = io.BytesIO()
    draw_photo(code, random.Random(seed)).save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def stack(model_dir: Path) -> Iterator[LocalStack]:
    # Instances wait for a free one here (up to 60 s) rather than being throttled: the load test
    # measures what the machine can serve, not how a 2-core laptop compares with Lambda's scale.
    with LocalStack(
        model_dir, throttle=TokenBucket(rate=10_000, burst=10_000), concurrency=10, wait_seconds=60
    ) as running:
        yield running


@pytest.fixture(scope="module")
def resources(stack: LocalStack) -> LocalResources:
    assert stack.resources is not None
    return stack.resources


def _client(resources: LocalResources) -> httpx.Client:
    return httpx.Client(
        base_url=resources.api_url, headers={"x-api-key": resources.api_key}, timeout=120
    )


def _sign_in(stack: LocalStack, http: httpx.Client, email: str, admin: bool = False) -> str:
    registered = http.post("/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    assert http.post("/confirm", json={"email": email, "code": "0"}).status_code == 200
    if admin:
        stack.make_admin(email)
    answer = http.post("/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id_token"])


def test_two_instances_adding_the_same_product_one_wins(
    stack: LocalStack, resources: LocalResources
) -> None:
    """The catalogue claim (a conditional put) decides: one 201, one 409, and what is stored is
    the winner's, whole: its table item, its record in the lake, no tombstone."""
    assert stack.gateway is not None
    with _client(resources) as http:
        token = _sign_in(stack, http, "race-admin@example.com", admin=True)
        rounds = 4
        for n in range(rounds):
            product_id = f"race-{n}"
            bodies = [
                {"product_id": product_id, "designation": f"Coussin {side}", "prdtypecode": 1920}
                for side in ("left", "right")
            ]
            answers = _at_once(http, "/products", bodies, {"Authorization": token})
            statuses = sorted(a.status_code for a in answers.values())
            assert statuses == [201, 409], [a.text for a in answers.values()]
            winner = next(i for i, a in answers.items() if a.status_code == 201)
            stored = answers[winner].json()
            item = boto3.client("dynamodb").get_item(
                TableName=resources.products_table, Key={"product_id": {"S": product_id}}
            )["Item"]
            assert item["designation"]["S"] == bodies[winner]["designation"]
            record = json.loads(
                boto3.client("s3")
                .get_object(Bucket=resources.bucket, Key=stored["record_key"])["Body"]
                .read()
            )
            assert record["designation"] == bodies[winner]["designation"]
            assert record["added_by"] == item["added_by"]["S"]
            assert "exists" in answers[1 - winner].json()["message"]
    # Both requests of a round were in flight at once: two Products instances, not one reused.
    assert stack.gateway.instances.instances()["Products"] >= 2


def _at_once(
    http: httpx.Client, path: str, bodies: list[dict[str, Any]], headers: dict[str, str]
) -> dict[int, httpx.Response]:
    """POST each body from its own thread, all released at the same moment."""
    start = threading.Barrier(len(bodies))
    answers: dict[int, httpx.Response] = {}

    def post(i: int) -> None:
        start.wait()
        answers[i] = http.post(path, json=bodies[i], headers=headers)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@dataclass
class _Load:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    # (user id, prediction id) of every 200 /predict
    predictions: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def _run_load(
    resources: LocalResources, sellers: list[tuple[str, str]], clients: int, requests: int
) -> _Load:
    load = _Load()
    texts = ["Piscine hors sol tubulaire Intex", "Figurine Funko Pop Marvel", "Lampe de chevet"]
    photos = [_photo(code, seed) for seed, code in enumerate((2583, 1140, 1920, 10))]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)
    rng = random.Random(11)
    kinds = ["predict_text"] * 4 + ["predict_photo"] * 2 + ["predict_both"] * 2
    kinds += ["logs", "feedback"]

    async def request(http: httpx.AsyncClient, n: int, seller: tuple[str, str]) -> None:
        user_id, token = seller
        kind = rng.choice(kinds)
        mine = [p for u, p in load.predictions if u == user_id]
        if kind == "feedback" and not mine:
            kind = "predict_text"
        headers = {"Authorization": token}
        text = {"designation": f"{rng.choice(texts)} {n}"}
        photo = {"photo": rng.choice(photos)}
        body: dict[str, Any] | None = {
            "predict_text": text,
            "predict_photo": photo,
            "predict_both": {**text, **photo},
            "feedback": {"prediction_id": rng.choice(mine), "prdtypecode": 10} if mine else None,
            "logs": None,
        }[kind]
        method, path = {"logs": ("GET", "/logs"), "feedback": ("POST", "/feedback")}.get(
            kind, ("POST", "/predict")
        )
        started = time.perf_counter()
        answer = await http.request(method, path, json=body, headers=headers)
        load.latencies.setdefault(kind, []).append(time.perf_counter() - started)
        load.statuses[answer.status_code] = load.statuses.get(answer.status_code, 0) + 1
        if answer.status_code >= 300 or (kind == "feedback" and answer.status_code != 201):
            load.failures.append(f"{method} {path} {answer.status_code} {answer.text[:200]}")
        elif path == "/predict":
            load.predictions.append((user_id, answer.json()["prediction_id"]))

    async def client(number: int) -> None:
        seller = sellers[number % len(sellers)]
        async with httpx.AsyncClient(
            base_url=resources.api_url, headers={"x-api-key": resources.api_key}, timeout=120
        ) as http:
            while True:
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await request(http, n, seller)

    await asyncio.gather(*(client(c) for c in range(clients)))
    return load


def _ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def test_a_bounded_load_loses_nothing_and_never_fails(
    stack: LocalStack, resources: LocalResources
) -> None:
    with _client(resources) as http:
        sellers = []
        for n in range(SELLERS):
            token = _sign_in(stack, http, f"load-{n}@example.com")
            sellers.append((_user_id(token), token))
    started = time.perf_counter()
    load = asyncio.run(_run_load(resources, sellers, LOAD_CLIENTS, LOAD_REQUESTS))
    elapsed = time.perf_counter() - started
    every = [s for kind in load.latencies.values() for s in kind]
    print(
        json.dumps(
            {
                "clients": LOAD_CLIENTS,
                "requests": len(every),
                "seconds": round(elapsed, 1),
                "statuses": load.statuses,
                "p50_ms": _ms(every, 0.5),
                "p99_ms": _ms(every, 0.99),
                "per_kind_p50_ms": {k: _ms(v, 0.5) for k, v in sorted(load.latencies.items())},
                "instances": stack.gateway.instances.instances() if stack.gateway else None,
                "median_s": round(statistics.median(every), 3),
            }
        )
    )
    assert len(every) == LOAD_REQUESTS
    assert not [s for s in load.statuses if s >= 500], load.failures[:5]
    assert not load.failures, load.failures[:5]

    # Nothing lost: each prediction's log item, under its caller's partition, and its capture.
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    logged: set[tuple[str, str]] = set()
    for user_id, _ in sellers:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=resources.request_log_table,
            KeyConditionExpression="user_id = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ProjectionExpression="requested_at",
        )
        logged |= {(user_id, i["requested_at"]["S"]) for page in pages for i in page["Items"]}
    assert set(load.predictions) <= logged
    captured = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=resources.bucket, Prefix="capture/"
        )
        for o in page.get("Contents", [])
    }
    for _, prediction in load.predictions:
        at = datetime.fromisoformat(prediction.partition("#")[0].replace("Z", "+00:00"))
        assert capture_key("capture/", request_id_of(prediction), at) in captured, prediction
    # Nothing was queued as undelivered: every record reached its store the first time round.
    queued = boto3.client("sqs").get_queue_attributes(
        QueueUrl=resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert queued["Attributes"]["ApproximateNumberOfMessages"] == "0"


def _user_id(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def _blocking_gateway(concurrency: int, wait_seconds: float) -> tuple[LocalGateway, Any]:
    release = threading.Event()
    calls: list[str] = []

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        calls.append(event["path"])
        release.wait(10)
        return {"statusCode": 200, "body": "{}"}

    gateway = LocalGateway(
        handler=handler,
        authorizer=Authorizer(UserPool("p", "c", "eu-west-3", "http://127.0.0.1:1/jwks")),
        api_key="k",
        throttle=TokenBucket(rate=1000, burst=1000),
        concurrency=concurrency,
        wait_seconds=wait_seconds,
    )
    return gateway, release


def test_a_function_at_its_concurrency_is_throttled_as_api_gateway_shows_it() -> None:
    """Lambda refuses the invocation (429 TooManyRequestsException); a REST API's proxy
    integration turns that into a 500 "Internal server error" for the caller."""
    gateway, release = _blocking_gateway(concurrency=2, wait_seconds=0)
    with serve_app(gateway.app()) as url:

        def get() -> httpx.Response:
            return httpx.get(f"{url}/health", headers={"x-api-key": "k"}, timeout=30)

        answers: list[httpx.Response] = []
        busy = [threading.Thread(target=lambda: answers.append(get())) for _ in range(2)]
        for thread in busy:
            thread.start()
        deadline = time.monotonic() + 10
        while gateway.instances.instances().get("Auth", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = get()
        release.set()
        for thread in busy:
            thread.join()
    assert refused.status_code == 500
    assert refused.json() == {"message": "Internal server error"}
    assert [a.status_code for a in answers] == [200, 200]


def test_a_request_may_wait_for_an_instance_to_free_up() -> None:
    gateway, release = _blocking_gateway(concurrency=1, wait_seconds=10)
    with serve_app(gateway.app()) as url:
        answers: list[int] = []

        def get() -> None:
            answers.append(httpx.get(f"{url}/health", headers={"x-api-key": "k"}).status_code)

        threads = [threading.Thread(target=get) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        release.set()
        for thread in threads:
            thread.join()
    assert answers == [200, 200]
    assert gateway.instances.instances() == {"Auth": 1}
