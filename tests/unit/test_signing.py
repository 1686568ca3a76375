"""Signed sign-in links: made only with the secret key, for one purpose, until they expire; any change refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.signing import BadSignature, Expired, sign, sign_in_link_id, sign_in_token, unsign

SECRET = "a-secret-key-for-tests-only"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LINK = uuid.UUID("3f2b8c4e-1d7a-4b6e-9a51-0c2d4e6f8a10")


def token(*, expires_at: datetime = NOW + timedelta(minutes=15), secret: str = SECRET) -> str:
    return sign_in_token(secret, LINK, expires_at)


def test_a_link_we_signed_names_its_row_until_it_expires() -> None:
    value = token()
    assert sign_in_link_id(SECRET, value, now=NOW) == LINK
    assert sign_in_link_id(SECRET, value, now=NOW + timedelta(minutes=14, seconds=59)) == LINK


@pytest.mark.parametrize("late", [timedelta(minutes=15), timedelta(minutes=15, seconds=1), timedelta(days=400)])
def test_a_link_is_refused_from_the_moment_it_expires(late: timedelta) -> None:
    with pytest.raises(Expired):
        sign_in_link_id(SECRET, token(), now=NOW + late)


def test_a_signed_link_is_url_safe_and_carries_no_secret() -> None:
    value = token()
    assert all(c.isalnum() or c in "-_." for c in value)
    link_hex, expires, signature = value.split(".")
    assert link_hex == LINK.hex
    assert int(expires) == int((NOW + timedelta(minutes=15)).timestamp())
    assert len(signature) == 43  # SHA-256, base64 without padding
    assert SECRET not in value


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_changing_any_character_is_refused() -> None:
    value = token()
    for at, char in enumerate(value):
        if char == ".":
            continue
        with pytest.raises(BadSignature):
            sign_in_link_id(SECRET, _flip(value, at), now=NOW)


def test_a_later_expiry_cannot_be_written_in() -> None:
    link_hex, expires, signature = token().split(".")
    longer = f"{link_hex}.{int(expires) + 86400}.{signature}"
    with pytest.raises(BadSignature) as refused:
        sign_in_link_id(SECRET, longer, now=NOW)
    assert not isinstance(refused.value, Expired)


def test_another_row_cannot_be_named_with_a_signature_made_for_one() -> None:
    _, expires, signature = token().split(".")
    with pytest.raises(BadSignature):
        sign_in_link_id(SECRET, f"{uuid.uuid4().hex}.{expires}.{signature}", now=NOW)


def test_a_link_signed_with_another_key_is_refused() -> None:
    with pytest.raises(BadSignature):
        sign_in_link_id(SECRET, token(secret="another-installation"), now=NOW)


def test_a_value_signed_for_another_purpose_is_not_a_sign_in_link() -> None:
    expires = str(int((NOW + timedelta(minutes=15)).timestamp()))
    other = sign(SECRET, "ideahub.something-else", LINK.hex, expires)
    assert unsign(SECRET, "ideahub.something-else", other, parts=2) == (LINK.hex, expires)
    with pytest.raises(BadSignature):
        sign_in_link_id(SECRET, other, now=NOW)


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "..",
        "abc",
        "a.b",
        "a.b.c.d",
        f"{LINK.hex}..sig",
        f"{LINK.hex}.123.sig/../../etc",
        f"{LINK.hex}.123.sig\n",
        "é.1.2",
        "x" * 5000,
    ],
)
def test_malformed_values_are_refused_unread(value: str) -> None:
    with pytest.raises(BadSignature):
        sign_in_link_id(SECRET, value, now=NOW)


def test_a_signed_value_that_is_not_a_uuid_and_a_time_is_refused() -> None:
    with pytest.raises(BadSignature):
        sign_in_link_id(SECRET, sign(SECRET, "ideahub.sign-in.v1", "not-a-uuid", "123"), now=NOW)
    with pytest.raises(BadSignature):
        sign_in_link_id(SECRET, sign(SECRET, "ideahub.sign-in.v1", LINK.hex, "9" * 40), now=NOW)


def test_only_url_safe_parts_can_be_signed() -> None:
    with pytest.raises(ValueError, match="cannot sign"):
        sign(SECRET, "p", "a.b")
    with pytest.raises(ValueError, match="cannot sign"):
        sign(SECRET, "p", "")
