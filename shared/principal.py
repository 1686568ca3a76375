"""Who is asking: a signed-in member of staff, as handlers see them (no web framework here).

`shared.web.deps` decides who a request comes from; handlers take the `Principal` it gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    REVIEWER = "reviewer"
    SPONSOR = "sponsor"
    ADMIN = "admin"


ROLES: tuple[str, ...] = tuple(Role)


@dataclass(frozen=True)
class Principal:
    id: int
    email: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN
