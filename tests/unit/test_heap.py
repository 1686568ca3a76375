"""A process settles its heap after start-up: what exists then is frozen out of the collector's generations."""

from __future__ import annotations

import gc

from shared.heap import settle


def test_settling_freezes_what_exists_and_leaves_new_objects_to_the_collector() -> None:
    try:
        frozen = settle()
        assert frozen > 0
        assert gc.get_freeze_count() == frozen
        made_after = [object() for _ in range(10)]
        assert gc.get_freeze_count() == frozen  # new objects stay collectable
        assert made_after
    finally:
        gc.unfreeze()
