"""GET /logs, POST/DELETE /products and POST /feedback through the real handler and moto."""

from __future__ import annotations

import base64
import io

import boto3
from api_harness import Api, s3_json, s3_keys
from PIL import Image


def png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 200, 0)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def predict(api: Api, user: str, text: str, **extra: object) -> str:
    status, _, body = api.call("POST", "/predict", {"designation": text, **extra}, user=user)
    assert status == 200
    return str(body["prediction_id"])


def test_logs_are_the_callers_own_newest_first_in_pages(api: Api) -> None:
    ids = [predict(api, "seller-1", f"listing {i}") for i in range(5)]
    predict(api, "seller-2", "someone else's")
    status, _, page = api.call("GET", "/logs", query={"limit": "2"})
    assert status == 200
    assert [i["prediction_id"] for i in page["items"]] == ids[::-1][:2]
    pages = [page]
    while page["next_token"]:
        status, _, page = api.call(
            "GET", "/logs", query={"limit": "2", "next_token": page["next_token"]}
        )
        assert status == 200
        pages.append(page)
    items = [i for p in pages for i in p["items"]]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [i["prediction_id"] for i in items] == ids[::-1]
    assert [i["user_id"] for i in items] == ["seller-1"] * 5  # on every page, not just the last
    assert [i["input"]["designation"] for i in items] == [f"listing {i}" for i in range(4, -1, -1)]


def test_a_seller_cannot_read_another_users_log_but_an_admin_can(api: Api) -> None:
    predict(api, "seller-2", "theirs")
    status, _, body = api.call("GET", "/logs", query={"user_id": "seller-2"})
    assert status == 403 and "own log" in body["message"]
    status, _, page = api.admin("GET", "/logs", query={"user_id": "seller-2"})
    assert status == 200 and [i["input"]["designation"] for i in page["items"]] == ["theirs"]


def test_a_page_token_cannot_be_forged_or_reused_for_another_user(api: Api) -> None:
    for i in range(3):
        predict(api, "seller-2", f"x{i}")
    _, _, page = api.admin("GET", "/logs", query={"user_id": "seller-2", "limit": "1"})
    token = page["next_token"]
    status, _, body = api.call("GET", "/logs", query={"next_token": token})
    assert status == 400 and "another user" in body["message"]
    status, _, body = api.call("GET", "/logs", query={"next_token": "bm90IGpzb24"})
    assert status == 400
    status, _, body = api.call("GET", "/logs", query={"limit": "0"})
    assert status == 400 and body["errors"][0]["field"] == "query.limit"


def test_admin_adds_a_product_to_the_catalogue_and_the_raw_zone(api: Api) -> None:
    photo = png()
    status, _, body = api.admin(
        "POST",
        "/products",
        {"product_id": "sku-42", "designation": "Coussin", "photo": photo, "prdtypecode": 1920},
    )
    assert status == 201
    bucket = api.env["DATA_LAKE_BUCKET"]
    assert body["record_key"] == "raw/products/records/sku-42.json"
    assert body["photo_key"] == "raw/products/photos/sku-42.png"
    record = s3_json(bucket, body["record_key"])
    assert record["prdtypecode"] == 1920 and record["added_by"] == "admin-1"
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=body["photo_key"])["Body"].read()
    assert stored == base64.b64decode(photo)
    item = boto3.client("dynamodb").get_item(
        TableName=api.env["PRODUCTS_TABLE"], Key={"product_id": {"S": "sku-42"}}
    )["Item"]
    assert item["prdtypecode"]["N"] == "1920"
    # The same id again is a conflict, not an overwrite.
    status, _, body = api.admin(
        "POST", "/products", {"product_id": "sku-42", "designation": "y", "prdtypecode": 10}
    )
    assert status == 409
    assert s3_json(bucket, "raw/products/records/sku-42.json")["designation"] == "Coussin"


def test_a_seller_can_neither_add_nor_delete_products(api: Api) -> None:
    api.admin("POST", "/products", {"product_id": "sku-7", "designation": "x", "prdtypecode": 10})
    bucket = api.env["DATA_LAKE_BUCKET"]
    before = s3_keys(bucket, "raw/")
    body = {"product_id": "sku-8", "designation": "Coussin", "photo": png(), "prdtypecode": 1920}
    status, _, answer = api.call("POST", "/products", body)
    assert status == 403 and "admin" in answer["message"]
    status, _, answer = api.call("DELETE", "/products/sku-7", resource="/products/{id}")
    assert status == 403 and "admin" in answer["message"]
    # Nothing was written, nothing removed, no tombstone.
    assert s3_keys(bucket, "raw/") == before == ["raw/products/records/sku-7.json"]
    table = api.env["PRODUCTS_TABLE"]
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert [i["product_id"]["S"] for i in items] == ["sku-7"]


def test_product_validation(api: Api) -> None:
    cases = [
        ({"designation": "x", "prdtypecode": 11}, 400),  # not one of the 27 codes
        ({"prdtypecode": 10}, 400),  # neither text nor photo
        ({"designation": "<p>&nbsp;</p>", "prdtypecode": 10}, 400),  # no text once cleaned
        ({"designation": "\u200b", "description": "Coussin", "prdtypecode": 10}, 400),
        ({"designation": "x", "prdtypecode": 10, "product_id": "../etc"}, 400),
        ({"designation": "x"}, 400),
        ({"designation": "x", "prdtypecode": 10, "photo": base64.b64encode(b"text").decode()}, 400),
    ]
    for body, expected in cases:
        assert api.admin("POST", "/products", body)[0] == expected, body
    assert s3_keys(api.env["DATA_LAKE_BUCKET"], "raw/") == []
    # Training reads a title that cleans to nothing as no text: with a photo it is a photo.
    body = {"product_id": "p", "designation": "<br>", "photo": png(), "prdtypecode": 10}
    assert api.admin("POST", "/products", body)[0] == 201


def test_delete_removes_the_product_and_leaves_a_tombstone(api: Api) -> None:
    api.admin(
        "POST",
        "/products",
        {"product_id": "sku-1", "designation": "x", "photo": png(), "prdtypecode": 10},
    )
    status, _, body = api.admin("DELETE", "/products/sku-1", resource="/products/{id}")
    assert status == 200 and body == {"product_id": "sku-1", "removed_from_catalogue": True}
    bucket = api.env["DATA_LAKE_BUCKET"]
    assert s3_keys(bucket, "raw/products/") == ["raw/products/deleted/sku-1.json"]
    assert s3_json(bucket, "raw/products/deleted/sku-1.json")["deleted_by"] == "admin-1"
    # A base-data product (never in the catalogue) is left out of training too.
    status, _, body = api.admin("DELETE", "/products/3804725264", resource="/products/{id}")
    assert status == 200 and body["removed_from_catalogue"] is False
    assert "raw/products/deleted/3804725264.json" in s3_keys(bucket, "raw/products/")
    # Re-adding a deleted id lifts its tombstone.
    api.admin("POST", "/products", {"product_id": "sku-1", "designation": "x", "prdtypecode": 10})
    assert "raw/products/deleted/sku-1.json" not in s3_keys(bucket, "raw/products/")


def test_a_failed_lake_write_keeps_nothing_and_answers_503(api: Api) -> None:
    s3 = boto3.client("s3")
    s3.delete_bucket(Bucket=api.env["DATA_LAKE_BUCKET"])
    status, headers, _ = api.admin(
        "POST", "/products", {"product_id": "p1", "designation": "x", "prdtypecode": 10}
    )
    assert status == 503 and headers["Retry-After"] == "5"
    item = boto3.client("dynamodb").get_item(
        TableName=api.env["PRODUCTS_TABLE"], Key={"product_id": {"S": "p1"}}
    )
    assert "Item" not in item  # the id was released: a retry will work


def test_feedback_turns_a_prediction_into_a_label_with_its_photo(api: Api) -> None:
    photo = png()
    prediction = predict(api, "seller-1", "Coussin", photo=photo)
    status, _, body = api.call(
        "POST", "/feedback", {"prediction_id": prediction, "prdtypecode": 1920}
    )
    assert status == 201
    bucket = api.env["DATA_LAKE_BUCKET"]
    record = s3_json(bucket, body["record_key"])
    assert record["prdtypecode"] == 1920 and record["predicted_code"] == 2583
    assert record["designation"] == "Coussin"
    copied = boto3.client("s3").get_object(Bucket=bucket, Key=record["photo"]["key"])["Body"].read()
    assert copied == base64.b64decode(photo)
    _, _, page = api.call("GET", "/logs")
    assert page["items"][0]["chosen_code"] == 1920
    # Changing one's mind overwrites the label rather than adding a second one.
    api.call("POST", "/feedback", {"prediction_id": prediction, "prdtypecode": 1560})
    assert s3_json(bucket, body["record_key"])["prdtypecode"] == 1560
    assert len(s3_keys(bucket, "raw/feedback/date=")) == 1


def test_feedback_on_someone_elses_or_an_unknown_prediction_is_404(api: Api) -> None:
    theirs = predict(api, "seller-2", "x")
    assert api.call("POST", "/feedback", {"prediction_id": theirs, "prdtypecode": 10})[0] == 404
    assert api.call("POST", "/feedback", {"prediction_id": "nope", "prdtypecode": 10})[0] == 404
    mine = predict(api, "seller-1", "x")
    assert api.call("POST", "/feedback", {"prediction_id": mine, "prdtypecode": 7})[0] == 400
    assert s3_keys(api.env["DATA_LAKE_BUCKET"], "raw/feedback/") == []
