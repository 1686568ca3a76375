"""After signing in, a person returns only to a path on this site: no link or form can send them elsewhere."""

from __future__ import annotations

import pytest

from infra.signin import NEXT_MAX, local_path


@pytest.mark.parametrize(
    "path",
    [
        "/reviews/tasks/5",
        "/reviews?done=reviewed",
        "/staff",
        "/",
        "/status/abc/stop-updates?x=1&y=2#part",
        "/reviews/%2F%2Fevil.example",  # an escaped slash is part of the path, not the start of a host
        "/" + "a" * (NEXT_MAX - 1),
    ],
)
def test_a_path_on_this_site_is_kept_as_it_is(path: str) -> None:
    assert local_path(path) == path


@pytest.mark.parametrize(
    "hostile",
    [
        None,
        "",
        "//evil.example",
        "//evil.example/reviews",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/reviews\\..\\..\\evil",
        "https://evil.example",
        "http://evil.example/reviews",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "reviews/tasks/5",
        " /reviews",
        "/\t/evil.example",  # browsers drop tabs and line breaks from an address: this is //evil.example
        "/\n/evil.example",
        "/reviews\r\nSet-Cookie: ideahub_session=stolen",
        "/reviews\x00",
        "/reviews\x7f",
        "/r\u00e9views",
        "/\u2215\u2215evil.example",
        "/" + "a" * NEXT_MAX,
    ],
)
def test_anything_else_is_ignored(hostile: str | None) -> None:
    assert local_path(hostile) is None
