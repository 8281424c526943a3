"""Sign-up, confirmation and sign-in against the user pool (moto), and who the caller is."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from api_harness import Api

from lambdas.api.errors import Forbidden, Unauthorized
from lambdas.api.identity import caller_from_event, parse_groups
from lambdas.api.password_policy import PasswordPolicy
from local_runtime.stack import PASSWORD_POLICY

REPO = Path(__file__).resolve().parents[2]

GOOD = {"email": "Seller@Example.com", "password": "Corr3ct-horse-battery"}


def test_register_makes_a_seller_who_confirms_then_signs_in(api: Api) -> None:
    status, _, body = api.call("POST", "/register", GOOD, user=None)
    assert status == 201
    assert body["email"] == "seller@example.com" and body["confirmed"] is False
    groups = boto3.client("cognito-idp").admin_list_groups_for_user(
        UserPoolId=api.env["USER_POOL_ID"], Username="seller@example.com"
    )["Groups"]
    assert [g["GroupName"] for g in groups] == ["sellers"]

    status, _, body = api.call("POST", "/login", GOOD, user=None)
    assert status == 401 and "confirm" in body["message"]
    status, _, _ = api.call(
        "POST", "/confirm", {"email": GOOD["email"], "code": "123456"}, user=None
    )
    assert status == 200
    status, _, tokens = api.call("POST", "/login", GOOD, user=None)
    assert status == 200
    assert tokens["id_token"].count(".") == 2 and tokens["expires_in"] > 0


def test_register_twice_is_a_conflict_and_a_weak_password_is_refused(api: Api) -> None:
    assert api.call("POST", "/register", GOOD, user=None)[0] == 201
    assert api.call("POST", "/register", GOOD, user=None)[0] == 409
    status, _, body = api.call(
        "POST", "/register", {"email": "b@example.com", "password": "short"}, user=None
    )
    assert status == 400
    # The user pool's own policy, in words (not Cognito's, nor moto's "does not confirm to").
    assert body["message"] == (
        "password too weak: use at least 12 characters, with an upper-case letter, "
        "a lower-case letter, a digit and a symbol such as ! or -"
    )


def test_the_stated_policy_is_the_one_the_pools_are_created_with() -> None:
    dev = json.loads((REPO / "cdk.json").read_text())["context"]["prodcat:stages"]["dev"]
    assert PasswordPolicy(minimum_length=dev["users"]["password_min_length"]) == PASSWORD_POLICY
    assert PasswordPolicy(minimum_length=8, require_symbols=False).describe() == (
        "at least 8 characters, with an upper-case letter, a lower-case letter and a digit"
    )


def test_wrong_password_and_unknown_user_get_the_same_answer(api: Api) -> None:
    api.call("POST", "/register", GOOD, user=None)
    api.call("POST", "/confirm", {"email": GOOD["email"], "code": "1"}, user=None)
    wrong = api.call("POST", "/login", {**GOOD, "password": "Wrong-passw0rd!!"}, user=None)
    unknown = api.call(
        "POST", "/login", {"email": "nobody@example.com", "password": "Wrong-passw0rd!!"}, user=None
    )
    assert wrong[0] == unknown[0] == 401
    assert wrong[2] == unknown[2]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "x"},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": "x", "groups": ["admins"]},
    ],
)
def test_bad_credentials_body_is_400(api: Api, body: dict[str, object]) -> None:
    assert api.call("POST", "/register", body, user=None)[0] == 400


def test_nobody_can_register_as_an_admin(api: Api) -> None:
    """Extra fields are refused, and the only group sign-up ever adds is sellers."""
    status, _, _ = api.call("POST", "/register", {**GOOD, "group": "admins"}, user=None)
    assert status == 400


def test_health_is_public(api: Api) -> None:
    status, _, body = api.call("GET", "/health", user=None)
    assert (status, body) == (200, {"status": "ok", "stage": "test"})


def test_groups_claim_in_every_shape_the_authorizer_may_send() -> None:
    assert parse_groups("[admins sellers]") == {"admins", "sellers"}
    assert parse_groups("admins,sellers") == {"admins", "sellers"}
    assert parse_groups("sellers") == {"sellers"}
    assert parse_groups(["admins"]) == {"admins"}
    assert parse_groups(None) == frozenset()
    assert parse_groups("[]") == frozenset()


def test_a_caller_without_claims_is_unauthorized_and_a_seller_is_not_an_admin() -> None:
    with pytest.raises(Unauthorized):
        caller_from_event({"requestContext": {"authorizer": None}})
    seller = caller_from_event(
        {"requestContext": {"authorizer": {"claims": {"sub": "u1", "cognito:groups": "[sellers]"}}}}
    )
    assert not seller.is_admin
    with pytest.raises(Forbidden):
        seller.require_admin()
