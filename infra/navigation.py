"""The pages each staff role sees in the header's service navigation, in one place.

A new staff page is listed here, under each role that may use it; the header shows the signed-in
person's list and marks the page they are on (`shared.web.pages`).
"""

from __future__ import annotations

from collections.abc import Mapping

STAFF_PAGES: Mapping[str, tuple[tuple[str, str], ...]] = {
    # role: (label, address), in the order shown
    "reviewer": (("Your reviews", "/reviews"),),
    "sponsor": (("Your offers", "/offers"), ("Your incubations", "/incubations")),
    "admin": (
        ("Overview", "/admin"),
        ("Ideas", "/admin/ideas"),
        ("Incubations", "/incubations"),
        ("Failures", "/admin/failures"),
        ("People", "/admin/people"),
        ("Reports", "/admin/reports"),
    ),
}
