"""The API's settings: the environment the CDK stack gives every API function, validated once."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, Json

from lambdas.api.password_policy import PasswordPolicy
from prodcat_contracts.lake import ZONES


class ApiSettings(BaseModel):
    """Field names match the environment variables (upper-cased) set in prediction_api_construct."""

    model_config = ConfigDict(frozen=True)

    stage: str
    user_pool_id: str
    user_pool_client_id: str
    request_log_table: str
    products_table: str
    data_lake_bucket: str
    raw_prefix: str = ZONES.raw
    capture_prefix: str = ZONES.capture
    endpoint_name: str
    undelivered_queue_url: str
    request_log_ttl_days: int = Field(30, ge=1)
    password_policy: Json[PasswordPolicy]  # the user pool's, stated when it refuses one

    def environment(self) -> dict[str, str]:
        """The environment variables that give these settings: what the CDK stack and the local
        stack set, so each name is written once (the field's)."""
        values = self.model_dump(mode="json", round_trip=True)
        return {name.upper(): str(value) for name, value in values.items()}


@lru_cache(maxsize=1)
def settings() -> ApiSettings:
    fields = ApiSettings.model_fields
    values = {name: os.environ[name.upper()] for name in fields if name.upper() in os.environ}
    return ApiSettings.model_validate(values)
