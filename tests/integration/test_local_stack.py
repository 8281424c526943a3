"""End to end over loopback HTTP: the local stack (moto server, local gateway with the Cognito
authorizer, the real handlers, a local SageMaker endpoint serving a model trained here).

Covers the website's journey, the authorizer's refusals, and who may do what on every route.
"""

from __future__ import annotations

import base64
import io
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from lambdas.api.routes import ROUTES
from local_runtime.gateway import Authorizer, LocalGateway, TokenBucket, UserPool
from local_runtime.serving import serve_app
from local_runtime.stack import LocalResources, LocalStack
from prodcat.sample_catalog import draw_photo

PASSWORD = "Corr3ct-horse-battery"


def photo(code: int, seed: int) -> str:
    buf = io.BytesIO()
    draw_photo(code, random.Random(seed)).save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode()


@dataclass
class Users:
    seller: dict[str, str]
    other_seller: dict[str, str]
    admin: dict[str, str]
    ids: dict[str, str]


@pytest.fixture(scope="module")
def http(resources: LocalResources) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=resources.api_url, headers={"x-api-key": resources.api_key}, timeout=60
    ) as client:
        yield client


def sign_up(http: httpx.Client, email: str) -> tuple[dict[str, str], str]:
    registered = http.post("/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    # moto accepts any code; Cognito would have emailed it.
    assert http.post("/confirm", json={"email": email, "code": "000000"}).status_code == 200
    return {"email": email}, registered.json()["user_id"]


def login(http: httpx.Client, email: str) -> dict[str, str]:
    answer = http.post("/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": answer.json()["id_token"]}


@pytest.fixture(scope="module")
def users(stack: LocalStack, http: httpx.Client) -> Users:
    ids = {}
    for name in ("seller", "other", "admin"):
        _, ids[name] = sign_up(http, f"{name}@example.com")
    stack.make_admin("admin@example.com")  # the operator's step; the token must be fresh after
    return Users(
        seller=login(http, "seller@example.com"),
        other_seller=login(http, "other@example.com"),
        admin=login(http, "admin@example.com"),
        ids=ids,
    )


def test_the_websites_journey(http: httpx.Client, users: Users, resources: LocalResources) -> None:
    assert http.get("/health").json()["status"] == "ok"
    answers = {}
    for name, listing in {
        "text": {"designation": "Piscine hors sol tubulaire Intex 4,57 x 1,22 m"},
        "photo": {"photo": photo(2583, seed=7)},
        "both": {"designation": "Figurine Funko Pop Marvel", "photo": photo(1140, seed=8)},
    }.items():
        answer = http.post("/predict", json={**listing, "top_k": 3}, headers=users.seller)
        assert answer.status_code == 200, answer.text
        answers[name] = answer.json()
        assert len(answers[name]["predictions"]) == 3
        total = sum(p["probability"] for p in answers[name]["predictions"])
        assert 0 < total <= 1 + 1e-6
    assert answers["text"]["modalities"] == ["text"]
    assert answers["photo"]["modalities"] == ["photo"]
    assert sorted(answers["both"]["modalities"]) == ["photo", "text"]
    assert answers["text"]["predictions"][0]["code"] == 2583

    page = http.get("/logs", headers=users.seller).json()
    assert [i["prediction_id"] for i in page["items"][:3]] == [
        answers[n]["prediction_id"] for n in ("both", "photo", "text")
    ]
    feedback = http.post(
        "/feedback",
        json={"prediction_id": answers["both"]["prediction_id"], "prdtypecode": 1140},
        headers=users.seller,
    )
    assert feedback.status_code == 201
    s3 = boto3.client("s3")
    record = json.loads(
        s3.get_object(Bucket=resources.bucket, Key=feedback.json()["record_key"])["Body"].read()
    )
    assert record["prdtypecode"] == 1140 and record["photo"] is not None

    added = http.post(
        "/products",
        json={"designation": "Coussin 40x40", "photo": photo(1920, 3), "prdtypecode": 1920},
        headers=users.admin,
    )
    assert added.status_code == 201, added.text
    listed = s3.list_objects_v2(Bucket=resources.bucket, Prefix="capture/")["Contents"]
    assert len(listed) >= 5  # 3 records + 2 photos


def test_swagger_and_the_openapi_document_are_served(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    assert set(doc["paths"]) >= {"/predict", "/logs", "/products", "/feedback", "/login"}
    page = http.get("/swagger")
    assert page.status_code == 200 and "swagger-ui" in page.text.lower()


def _expired_moto_token(resources: LocalResources, user_id: str) -> str:
    """A token signed with the pool's own key (moto's) that expired an hour ago."""
    import gzip
    import os

    import moto

    path = Path(os.path.dirname(moto.__file__)) / "cognitoidp/resources/jwks-private.json.gz"
    key = RSAKey.import_key(json.loads(gzip.decompress(path.read_bytes())))
    now = int(time.time())
    claims = {
        "iss": f"https://cognito-idp.eu-west-3.amazonaws.com/{resources.user_pool_id}",
        "aud": resources.client_id,
        "sub": user_id,
        "token_use": "id",
        "iat": now - 7200,
        "exp": now - 3600,
        "cognito:groups": ["admins"],
    }
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key)


def test_the_authorizer_refuses_what_api_gateway_refuses(
    http: httpx.Client, users: Users, resources: LocalResources
) -> None:
    body = {"designation": "x"}
    anonymous = http.post("/predict", json=body)
    assert anonymous.status_code == 401
    assert "id_token from POST /login as the Authorization header" in anonymous.json()["message"]
    assert http.post("/predict", json=body, headers={"Authorization": "garbage"}).status_code == 401
    forged = jwt.encode(
        {"alg": "RS256"},
        {"sub": users.ids["admin"], "token_use": "id", "cognito:groups": ["admins"]},
        RSAKey.generate_key(2048),
    )
    assert http.post("/predict", json=body, headers={"Authorization": forged}).status_code == 401
    expired = _expired_moto_token(resources, users.ids["admin"])
    assert http.post("/predict", json=body, headers={"Authorization": expired}).status_code == 401
    answer = httpx.post(
        f"{resources.api_url}/predict", json=body, headers={**users.seller, "x-api-key": "wrong"}
    )
    assert answer.status_code == 403
    assert "x-api-key header" in answer.json()["message"]


# Who may call what: (method, path, body) -> expected status per role. Anonymous callers are
# refused on every protected route by the authorizer; the rest is the handlers' business.
def _matrix(users: Users, prediction_of_seller: str) -> list[tuple[str, str, Any, str, int]]:
    product = {"designation": "Tapis", "prdtypecode": 1560}
    return [
        ("GET", "/health", None, "anonymous", 200),
        ("POST", "/predict", {"designation": "x"}, "anonymous", 401),
        ("POST", "/predict", {"designation": "x"}, "seller", 200),
        ("POST", "/predict", {"designation": "x"}, "admin", 200),
        ("GET", "/logs", None, "anonymous", 401),
        ("GET", "/logs", None, "seller", 200),
        ("GET", f"/logs?user_id={users.ids['admin']}", None, "seller", 403),
        ("GET", f"/logs?user_id={users.ids['seller']}", None, "other", 403),
        ("GET", f"/logs?user_id={users.ids['seller']}", None, "admin", 200),
        ("POST", "/products", product, "anonymous", 401),
        ("POST", "/products", product, "seller", 403),
        ("POST", "/products", product, "admin", 201),
        ("DELETE", "/products/sku-x", None, "anonymous", 401),
        ("DELETE", "/products/sku-x", None, "seller", 403),
        ("DELETE", "/products/sku-x", None, "admin", 200),
        (
            "POST",
            "/feedback",
            {"prediction_id": prediction_of_seller, "prdtypecode": 10},
            "anonymous",
            401,
        ),
        (
            "POST",
            "/feedback",
            {"prediction_id": prediction_of_seller, "prdtypecode": 10},
            "other",
            404,
        ),
        (
            "POST",
            "/feedback",
            {"prediction_id": prediction_of_seller, "prdtypecode": 10},
            "admin",
            404,
        ),
        (
            "POST",
            "/feedback",
            {"prediction_id": prediction_of_seller, "prdtypecode": 10},
            "seller",
            201,
        ),
    ]


def test_every_route_and_role(http: httpx.Client, users: Users) -> None:
    tokens = {
        "anonymous": {},
        "seller": users.seller,
        "other": users.other_seller,
        "admin": users.admin,
    }
    prediction = http.post("/predict", json={"designation": "Lampe"}, headers=users.seller).json()
    rows = _matrix(users, prediction["prediction_id"])
    covered = {(m, p.split("?")[0].replace("sku-x", "{id}")) for m, p, *_ in rows}
    protected = {(r.method, r.resource) for r in ROUTES if not r.public}
    assert protected <= covered, "a protected route is missing from the matrix"
    for method, path, body, role, expected in rows:
        answer = http.request(method, path, json=body, headers=tokens[role])
        assert answer.status_code == expected, (method, path, role, answer.text)


def test_admin_group_membership_shows_in_the_token_only_after_the_operator_adds_it(
    stack: LocalStack, http: httpx.Client
) -> None:
    sign_up(http, "later-admin@example.com")
    before = login(http, "later-admin@example.com")
    product = {"designation": "x", "prdtypecode": 10}
    assert http.post("/products", json=product, headers=before).status_code == 403
    stack.make_admin("later-admin@example.com")
    after = login(http, "later-admin@example.com")
    assert http.post("/products", json=product, headers=after).status_code == 201


def test_throttling_answers_429_with_retry_after() -> None:
    calls: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        calls.append(event)
        return {"statusCode": 200, "body": "{}"}

    gateway = LocalGateway(
        handler=handler,
        authorizer=Authorizer(UserPool("p", "c", "eu-west-3", "http://127.0.0.1:1/jwks")),
        api_key="k",
        throttle=TokenBucket(rate=0.001, burst=2),
    )
    with serve_app(gateway.app()) as url:
        answers = [httpx.get(f"{url}/health", headers={"x-api-key": "k"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert answers[-1].headers["retry-after"] == "1"
    assert len(calls) == 2
    assert calls[0]["resource"] == "/health" and calls[0]["requestContext"]["authorizer"] is None


def test_no_model_deployed_is_503_with_retry_after(
    stack: LocalStack, http: httpx.Client, users: Users, model_dir: Path, resources: LocalResources
) -> None:
    stack.endpoints.delete(resources.endpoint_name)
    try:
        answer = http.post("/predict", json={"designation": "x"}, headers=users.seller)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "300"
        assert "no model" in answer.json()["message"]
    finally:
        stack.endpoints.deploy(resources.endpoint_name, model_dir)
    assert http.post("/predict", json={"designation": "x"}, headers=users.seller).status_code == 200


def test_a_photo_the_model_cannot_decode_is_400_from_the_endpoint(
    http: httpx.Client, users: Users
) -> None:
    truncated = base64.b64decode(photo(10, 1))[:300]  # a JPEG header, then nothing
    answer = http.post(
        "/predict", json={"photo": base64.b64encode(truncated).decode()}, headers=users.seller
    )
    assert answer.status_code == 400, answer.text
    assert "photo" in answer.json()["message"]


def test_the_handlers_metrics_reach_the_local_cloudwatch(http: httpx.Client, users: Users) -> None:
    assert (
        http.post("/predict", json={"designation": "Lampe"}, headers=users.seller).status_code
        == 200
    )
    listed = boto3.client("cloudwatch").list_metrics(Namespace="prodcat")["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"PredictLatency", "Top1Confidence", "LowConfidence", "PredictedClass"} <= names
    classes = [m for m in listed if m["MetricName"] == "PredictedClass"]
    assert all({"Stage", "ProductType"} <= {d["Name"] for d in m["Dimensions"]} for m in classes)
