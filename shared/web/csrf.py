"""Cross-site request forgery protection for HTML forms: a signed double-submit token.

The browser holds a random value in an HttpOnly, SameSite=Lax cookie; every form we render
carries an HMAC of that value under the installation's secret key. Another site can make
the browser send the cookie but can neither read it nor compute the HMAC, so a POST
whose field does not match its cookie did not come from one of our pages.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from shared.config import Settings

COOKIE = "ideahub_csrf"
FIELD = "csrf_token"
# What `secrets.token_urlsafe(32)` makes; anything else in the cookie is ignored and replaced.
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class CsrfToken:
    cookie: str
    field: str
    new: bool  # the cookie must be set on the response


class Csrf:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.resolved_secret_key().encode()
        self._secure = settings.public_url.lower().startswith("https://")

    def _sign(self, cookie: str) -> str:
        return hmac.new(self._key, b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()

    def token(self, request: Request) -> CsrfToken:
        """The token for a form on this page: the browser's cookie signed, or a new cookie."""
        cookie = request.cookies.get(COOKIE, "")
        if _COOKIE_VALUE.match(cookie):
            return CsrfToken(cookie, self._sign(cookie), new=False)
        cookie = secrets.token_urlsafe(32)
        return CsrfToken(cookie, self._sign(cookie), new=True)

    def set_cookie(self, response: Response, token: CsrfToken) -> None:
        if token.new:
            # A session cookie: it lives as long as the browser, and so do the forms it signs.
            response.set_cookie(COOKIE, token.cookie, httponly=True, samesite="lax", secure=self._secure, path="/")

    def valid(self, request: Request, submitted: object) -> bool:
        """Whether a posted form's token matches the browser's cookie."""
        cookie = request.cookies.get(COOKIE, "")
        if not _COOKIE_VALUE.match(cookie) or not isinstance(submitted, str):
            return False
        return hmac.compare_digest(self._sign(cookie).encode(), submitted.encode())
