"""Write the JSON schema of every event to `schemas/<type>.json`, the copies `tests/contract` compares against.

Run `python -m shared.contracts.freeze` after adding an event type or an optional field. A breaking
change (a field removed, retyped or made required) is not refrozen: it becomes a new `V<n+1>` model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts.events import EVENT_TYPES

SCHEMAS = Path(__file__).parent / "schemas"


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def freeze(directory: Path = SCHEMAS) -> list[Path]:
    """Write one file per event type; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, model in sorted(EVENT_TYPES.items()):
        path = directory / f"{event_type}.json"
        path.write_text(schema_text(model.model_json_schema()), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    for path in freeze():
        print(f"froze {path}")  # noqa: T201 - a command-line entry point


if __name__ == "__main__":
    main()
