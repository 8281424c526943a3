"""The web page (web/) on the local gateway's origin, at /site/, with its config.json and the
security headers CloudFront adds in AWS (prodcat/site.py). Same origin as the API here, so the
browser sends no preflight; the deployed site calls the API across origins (CORS)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from prodcat.site import SECURITY_HEADERS, WEB_DIR, content_security_policy

PREFIX = "/site"


@dataclass(frozen=True)
class LocalSite:
    config: dict[str, Any]
    root: Path = WEB_DIR

    def routes(self) -> list[Route]:
        return [
            Route(PREFIX, lambda _: RedirectResponse(f"{PREFIX}/"), methods=["GET"]),
            Route(PREFIX + "/{name:path}", self._file, methods=["GET"]),
        ]

    def _headers(self) -> dict[str, str]:
        # Local HTTP: HSTS would only be ignored; everything else as deployed.
        headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "Strict-Transport-Security"}
        return {
            **headers,
            "Content-Security-Policy": content_security_policy(""),
            "Cache-Control": "no-store",
        }

    async def _file(self, request: Request) -> Response:
        name = request.path_params["name"] or "index.html"
        if name == "config.json":
            return JSONResponse(self.config, headers=self._headers())
        root = self.root.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return JSONResponse({"message": f"no page {name}"}, status_code=404)
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(path.read_bytes(), media_type=media, headers=self._headers())
