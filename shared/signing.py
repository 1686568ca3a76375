"""Signed, expiring values for links we email: HMAC-SHA256 under the installation's secret key.

A signed value is `PART.PART....SIGNATURE`, every part URL-safe, so it can sit in a path
segment. The signature covers a purpose word as well as the parts, so a value signed for
one use (a sign-in link) is refused for any other, and it is checked in constant time.

The sign-in link is `LINK_ID.EXPIRES.SIGNATURE`: the row's id (hex) and its expiry (Unix
seconds). Its signature proves that we made the link; whether it is still unused is the
database's business (`sign_in_links.used_at`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime

SIGN_IN = "ideahub.sign-in.v1"
# A part is URL-safe text without the separator; anything else in a signed value is refused unread.
_PART = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_SEPARATOR = "."


class BadSignature(ValueError):
    """Not a value we signed for this purpose: tampered, truncated, made up, or for another use."""


class Expired(BadSignature):
    """A value we signed, whose time is up."""


def _mac(secret: str, purpose: str, parts: tuple[str, ...]) -> str:
    message = "|".join((purpose, *parts)).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: str, purpose: str, *parts: str) -> str:
    for part in parts:
        if not _PART.match(part):
            raise ValueError(f"cannot sign {part!r}: use letters, digits, '-' and '_' only")
    return _SEPARATOR.join((*parts, _mac(secret, purpose, parts)))


def unsign(secret: str, purpose: str, value: str, *, parts: int) -> tuple[str, ...]:
    """The parts of a value signed with `sign(secret, purpose, ...)`, or BadSignature."""
    pieces = value.split(_SEPARATOR)
    if len(pieces) != parts + 1 or not all(_PART.match(piece) for piece in pieces):
        raise BadSignature("not a signed value")
    *found, signature = pieces
    if not hmac.compare_digest(_mac(secret, purpose, tuple(found)).encode(), signature.encode()):
        raise BadSignature("the signature does not match")
    return tuple(found)


def sign_in_token(secret: str, link_id: uuid.UUID, expires_at: datetime) -> str:
    """The path segment of an emailed sign-in link."""
    return sign(secret, SIGN_IN, link_id.hex, str(int(expires_at.timestamp())))


def sign_in_link_id(secret: str, token: str, *, now: datetime | None = None) -> uuid.UUID:
    """The sign-in link a token names, if we signed it and it has not expired; else BadSignature or Expired."""
    link_hex, expires = unsign(secret, SIGN_IN, token, parts=2)
    try:
        link_id = uuid.UUID(hex=link_hex)
        expires_at = datetime.fromtimestamp(int(expires), UTC)
    except (ValueError, OverflowError, OSError):  # signed by us, so only a changed key or format gets here
        raise BadSignature("not a sign-in link") from None
    if (now or datetime.now(UTC)) >= expires_at:
        raise Expired("the link has expired")
    return link_id
