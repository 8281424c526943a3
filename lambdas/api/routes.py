"""The API's routes as API Gateway sees them: which function serves each, and which are public.

The CDK construct builds its resources and methods from this table, and the local gateway routes
with it, so the two cannot drift apart. (The resolver in app.py matches the same paths.)
"""

from __future__ import annotations

from typing import NamedTuple


class Route(NamedTuple):
    method: str
    resource: str  # API Gateway's resource path, `{name}` for a path parameter
    function: str  # which API Lambda serves it (prediction_api_construct.py)
    public: bool = False  # no Cognito token needed (the API key still is)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "Auth", public=True),
    Route("POST", "/register", "Auth", public=True),
    Route("POST", "/confirm", "Auth", public=True),
    Route("POST", "/login", "Auth", public=True),
    Route("POST", "/predict", "Predict"),
    Route("GET", "/logs", "Logs"),
    Route("POST", "/products", "Products"),
    Route("DELETE", "/products/{id}", "Products"),
    Route("POST", "/feedback", "Feedback"),
)
