"""Who is calling: the claims API Gateway's Cognito authorizer put in the request context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from lambdas.api.errors import Forbidden, Unauthorized

ADMINS_GROUP = "admins"  # the Cognito group (infra/constructs/user_directory_construct.py)
SELLERS_GROUP = "sellers"

# API Gateway's answers before any Lambda runs, as its gateway responses (prediction_api_construct)
# and the local gateway give them: what to send, not only "Unauthorized".
NO_TOKEN_MESSAGE = (
    "Unauthorized: send the id_token from POST /login as the Authorization header "
    "(a token expires: sign in again)"
)
NO_API_KEY_MESSAGE = "Forbidden: send the website's API key as the x-api-key header"


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str  # the Cognito `sub`: stable, unlike the email
    email: str | None
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMINS_GROUP in self.groups

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this needs an admin: ask an admin to add you to the admins group")


def parse_groups(value: Any) -> frozenset[str]:
    """`cognito:groups` as the authorizer passes it: REST APIs flatten claims to strings, so a
    list arrives as "[admins sellers]" (or "admins,sellers"); a list is accepted too."""
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    text = str(value).strip().removeprefix("[").removesuffix("]")
    return frozenset(part for part in text.replace(",", " ").split() if part)


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    """The authorizer already verified the token; a request without claims never got past it,
    so missing claims here mean a misconfigured route, answered 401 rather than trusted."""
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    user_id = claims.get("sub")
    if not user_id:
        raise Unauthorized(NO_TOKEN_MESSAGE)
    return Caller(
        user_id=str(user_id),
        email=claims.get("email"),
        groups=parse_groups(claims.get("cognito:groups")),
    )
