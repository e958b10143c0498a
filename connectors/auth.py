"""Static credentials as ``httpx.Auth``: a bearer token header, or an API key query parameter.

Neither can be refreshed by the API (an operator replaces them), so there is nothing to
refresh lazily: a rejection is classified by the platform's rules and stops the channel.
Both attach the secret at send time only, so the URL the shared layer records and lands
never holds it; it is still passed to the redaction helper as a known secret.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx


class BearerAuth(httpx.Auth):
    """Sends a token as ``Authorization: Bearer``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach the bearer header."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class QueryKeyAuth(httpx.Auth):
    """Sends an API key as a query parameter (Google's ``key=``)."""

    def __init__(self, key: str, param: str = "key") -> None:
        self._key = key
        self._param = param

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the key to the query string."""
        request.url = request.url.copy_merge_params({self._param: self._key})
        yield request
