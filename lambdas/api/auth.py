"""Sign-up, confirmation and sign-in against the Cognito user pool.

Every new user is a seller. Admins are a Cognito group that only an operator can add someone to
(`aws cognito-idp admin-add-user-to-group`); nothing a user sends can make them one.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdas.api.clients import client
from lambdas.api.errors import (
    DEPENDENCY_RETRY_AFTER,
    BadRequest,
    Conflict,
    Throttled,
    Unauthorized,
    Unavailable,
)
from lambdas.api.identity import SELLERS_GROUP
from lambdas.api.models import Confirmation, Credentials, Registered, Tokens
from lambdas.api.settings import ApiSettings


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _cognito_error(exc: ClientError, settings: ApiSettings) -> Exception:
    """Cognito's answer as the caller should see it; messages say what to change."""
    code = _code(exc)
    message = str(exc.response.get("Error", {}).get("Message", code))
    if code == "UsernameExistsException":
        return Conflict("an account with this email exists: sign in with POST /login")
    if code == "InvalidPasswordException":
        # Cognito's message names no rule (moto's even misspells it): state the whole policy.
        return BadRequest(f"password too weak: use {settings.password_policy.describe()}")
    if code in {"CodeMismatchException", "ExpiredCodeException"}:
        return BadRequest("the code is wrong or expired: check the latest email")
    if code in {"NotAuthorizedException", "UserNotFoundException"}:
        # One answer for both, so the API does not tell who has an account.
        return Unauthorized("wrong email or password")
    if code == "UserNotConfirmedException":
        return Unauthorized("confirm your email first: POST /confirm with the emailed code")
    if code in {"TooManyRequestsException", "LimitExceededException"}:
        return Throttled("too many attempts: wait a minute and try again", retry_after_seconds=60)
    if code == "InvalidParameterException":
        return BadRequest(message)
    return Unavailable(
        "the user directory is failing right now: retry shortly",
        retry_after_seconds=DEPENDENCY_RETRY_AFTER,
    )


def register(credentials: Credentials, settings: ApiSettings) -> Registered:
    cognito = client("cognito-idp")
    try:
        signed_up = cognito.sign_up(
            ClientId=settings.user_pool_client_id,
            Username=credentials.email,
            Password=credentials.password,
            UserAttributes=[{"Name": "email", "Value": credentials.email}],
        )
        cognito.admin_add_user_to_group(
            UserPoolId=settings.user_pool_id, Username=credentials.email, GroupName=SELLERS_GROUP
        )
    except ClientError as exc:
        raise _cognito_error(exc, settings) from exc
    confirmed = bool(signed_up.get("UserConfirmed"))
    return Registered(
        user_id=signed_up["UserSub"],
        email=credentials.email,
        confirmed=confirmed,
        next_step="POST /login" if confirmed else "POST /confirm with the code sent by email",
    )


def confirm(confirmation: Confirmation, settings: ApiSettings) -> None:
    try:
        client("cognito-idp").confirm_sign_up(
            ClientId=settings.user_pool_client_id,
            Username=confirmation.email,
            ConfirmationCode=confirmation.code,
        )
    except ClientError as exc:
        if _code(exc) in {"UserNotFoundException", "NotAuthorizedException"}:
            # Same answer as a wrong code: confirming must not tell who has an account.
            raise BadRequest("the code is wrong or expired: check the latest email") from exc
        raise _cognito_error(exc, settings) from exc


def login(credentials: Credentials, settings: ApiSettings) -> Tokens:
    try:
        answer: dict[str, Any] = client("cognito-idp").initiate_auth(
            ClientId=settings.user_pool_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": credentials.email, "PASSWORD": credentials.password},
        )
    except ClientError as exc:
        raise _cognito_error(exc, settings) from exc
    result = answer.get("AuthenticationResult")
    if result is None:
        # A challenge (e.g. a TOTP code for users who turned MFA on) needs Cognito's hosted UI
        # or the SDK's challenge flow; this API only does the password step.
        raise Unauthorized(
            f"sign-in needs the {answer.get('ChallengeName', 'unknown')} challenge: use the "
            "website's sign-in page"
        )
    return Tokens(
        id_token=result["IdToken"],
        access_token=result["AccessToken"],
        refresh_token=result.get("RefreshToken"),
        expires_in=int(result["ExpiresIn"]),
    )
