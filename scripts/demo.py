"""`make demo`: sample catalog -> train -> evaluate -> the local stack -> the API as the website
and an admin use it (register, log in, predict, logs, feedback, products).

Runs on data it generates (no Rakuten data needed); everything lands in .work/demo/.
"""

from __future__ import annotations

import base64
import io
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from local_runtime.stack import LocalStack
from prodcat.evaluation import evaluate, write_outputs
from prodcat.model import ProductTypeModel
from prodcat.sample_catalog import draw_photo, write_sample_catalog
from prodcat.training import train

WORK = Path(".work/demo")
PASSWORD = "Demo-passw0rd-2026"


def photo_b64(code: int, seed: int) -> str:
    buf = io.BytesIO()
    draw_photo(code, random.Random(seed)).save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode()


def show(title: str, answer: dict[str, object]) -> None:
    print(f"\n{title}  (model {answer['model_version']}, used {'+'.join(answer['modalities'])})")  # type: ignore[arg-type]
    for p in answer["predictions"]:  # type: ignore[attr-defined]
        print(f"  {p['code']:>5}  {p['probability']:.3f}  {p['name']}")


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    started = time.perf_counter()
    print("1/4 writing a sample catalog: 270 generated listings to train on, 108 held out")
    write_sample_catalog(WORK / "train", per_class=10, seed=1)
    write_sample_catalog(WORK / "test", per_class=4, seed=2, split="test")

    print(
        "2/4 training: photo features (EfficientNet-Lite2), text embeddings (e5), then 5-fold\n"
        "    out-of-fold fits to calibrate the probabilities; about 2 min on an idle 2-core machine"
    )
    result = train(WORK / "train")
    result.model.save(WORK / "model")
    print(f"    model {result.model.version} trained in {result.seconds:.0f} s")

    print("3/4 evaluating on the held-out listings (about 20 s)")
    model = ProductTypeModel.load(WORK / "model")
    evaluation = evaluate(model, WORK / "test")
    paths = write_outputs(evaluation, model, WORK / "evaluation")
    print(json.dumps({k: v for k, v in evaluation.metrics.items() if k != "data"}, indent=2))
    print(f"    report: {paths['report']}")

    print(
        "4/4 the local stack: moto (Cognito, DynamoDB, S3, SQS), the model endpoint, the API;\n"
        "    then the API as the website and an admin call it (about 30 s)"
    )
    with LocalStack(WORK / "model") as stack:
        assert stack.resources is not None
        print(
            f"    web page: {stack.resources.site_url} (up while the demo runs; "
            "`.venv/bin/prodcat local up` keeps it up)"
        )
        api_demo(stack, stack.resources.api_url, stack.resources.api_key)
    print(f"\nlocal stack stopped. Done in {time.perf_counter() - started:.0f} s.")


def api_demo(stack: LocalStack, url: str, api_key: str) -> None:
    listings: dict[str, dict[str, object]] = {
        "text only": {
            "designation": "Piscine hors sol tubulaire Intex 4,57 x 1,22 m",
            "description": "Avec pompe &amp; filtre à sable",
        },
        "photo only": {"photo": photo_b64(2583, seed=7)},
        "text + photo": {
            "designation": "Figurine Funko Pop Marvel 15 cm",
            "photo": photo_b64(1140, seed=8),
        },
    }
    with httpx.Client(base_url=url, headers={"x-api-key": api_key}, timeout=60) as api:
        print(f"    API at {url} (Swagger UI: {url}/swagger): {api.get('/health').json()}")
        tokens = {}
        for who in ("seller", "admin"):
            email = f"{who}@example.com"
            step(api, "POST", "/register", {"email": email, "password": PASSWORD}, 201)
            # Cognito emails a code; the local user pool (moto) takes any.
            step(api, "POST", "/confirm", {"email": email, "code": "000000"}, 200)
            if who == "admin":
                stack.make_admin(email)
                print(f"    operator: added {email} to the admins group")
            answer = step(api, "POST", "/login", {"email": email, "password": PASSWORD}, 200)
            tokens[who] = {"Authorization": answer["id_token"]}
        seller, admin = tokens["seller"], tokens["admin"]

        for title, body in listings.items():  # top_k left out: the API's default, 5
            answer = step(api, "POST", "/predict", body, 200, seller)
            show(f"seller, {title}:", answer)
        admin_prediction = step(api, "POST", "/predict", {"designation": "Lampe"}, 200, admin)
        show("admin, text only (one word):", admin_prediction)

        page = step(api, "GET", "/logs?limit=10", None, 200, seller)
        print(f"    the seller's log holds {len(page['items'])} predictions, newest first")
        last = page["items"][0]
        step(
            api,
            "POST",
            "/feedback",
            {"prediction_id": last["prediction_id"], "prdtypecode": 1140},
            201,
            seller,
        )
        admin_id = admin_prediction["prediction_id"]
        print("    three refusals the API must give (the demo checks each):")
        step(
            api,
            "GET",
            f"/logs?user_id={user_of(api, admin)}",
            None,
            403,
            seller,
            why="a seller reads only their own log",
        )
        step(
            api,
            "POST",
            "/feedback",
            {"prediction_id": admin_id, "prdtypecode": 10},
            404,
            seller,
            why="feedback on someone else's prediction",
        )
        step(
            api,
            "POST",
            "/products",
            {"designation": "Tapis", "prdtypecode": 1560},
            403,
            seller,
            why="only admins add products",
        )
        product = {
            "product_id": "demo-rug-1",
            "designation": "Tapis berbère 160x230",
            "photo": photo_b64(1560, seed=9),
            "prdtypecode": 1560,
        }
        added = step(api, "POST", "/products", product, 201, admin)
        print(f"    stored for the next retraining: {added['record_key']}, {added['photo_key']}")


def user_of(api: httpx.Client, headers: dict[str, str]) -> str:
    """The caller's user id, as their own log shows it."""
    return str(api.get("/logs?limit=1", headers=headers).json()["items"][0]["user_id"])


def step(
    api: httpx.Client,
    method: str,
    path: str,
    body: dict[str, object] | None,
    expected: int,
    headers: dict[str, str] | None = None,
    *,
    why: str = "",
) -> dict[str, Any]:
    """One call; `why` marks an expected refusal (a 4xx the demo asks for on purpose)."""
    answer = api.request(method, path, json=body, headers=headers)
    note = "" if answer.status_code < 400 else f": {answer.json().get('message')}"
    if why and answer.status_code == expected:
        note = f", refused as it must be ({why}){note}"
    print(f"    {method} {path.split('?')[0]} -> {answer.status_code}{note}")
    if answer.status_code != expected:
        raise SystemExit(f"expected {expected}, got {answer.status_code}: {answer.text}")
    result: dict[str, Any] = answer.json()
    return result


if __name__ == "__main__":
    main()
