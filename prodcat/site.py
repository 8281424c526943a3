"""What the web page (web/) is told and which headers it is served with, wherever it runs.

The local stack serves both at /site/ (local_runtime/site.py); the CDK app deploys the same
`config.json` beside the page and the same policy as CloudFront's response headers
(infra/constructs/web_site_construct.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prodcat_contracts.taxonomy import builtin_taxonomy

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def site_config(api_url: str, api_key: str, stage: str, password_rule: str) -> dict[str, Any]:
    """config.json: where the API is, the website's usage-plan key (an identifier for throttling
    and quotas, not a secret: every route but sign-up and sign-in needs a Cognito token too),
    the user pool's password rule in words (shown under the sign-up form), and the product types
    an admin labels with (the API's own list)."""
    return {
        "apiUrl": api_url.rstrip("/"),
        "apiKey": api_key,
        "stage": stage,
        "passwordRule": password_rule,
        "productTypes": builtin_taxonomy().to_json(),
    }


def content_security_policy(api_origin: str) -> str:
    """Scripts, styles and images from the site only (no inline code: the session token lives
    in sessionStorage, so injected script is what matters), fetches to the site and the API,
    photos previewed from blob: URLs, no frames, no plugins, forms post nowhere else."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob: data:",
            f"connect-src 'self' {api_origin}".strip(),
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


# What CloudFront's response headers policy adds besides the CSP, as header -> value.
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
