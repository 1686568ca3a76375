"""Versioned domain events, shared by every service.

Each event is a frozen pydantic model with a `Literal` type carrying its major
version (`idea.received.v1`). Within a version only optional fields may be added;
a breaking change is a new model (V2) published beside the old one. The frozen
JSON schemas in `schemas/` are checked by `tests/contract`.

Personal data about a submitter travels only in the `submitter` field, so that
anonymity can be enforced in one place.
"""

from shared.contracts.events import (
    EVENT_TYPES,
    Event,
    IdeaReceivedV1,
    IdeaStatusChangedV1,
    IncubationStartedV1,
    OfferAnsweredV1,
    OfferMadeV1,
    ReviewAssignedV1,
    ReviewSubmittedV1,
    Submitter,
    parse_event,
)

__all__ = [
    "EVENT_TYPES",
    "Event",
    "IdeaReceivedV1",
    "IdeaStatusChangedV1",
    "IncubationStartedV1",
    "OfferAnsweredV1",
    "OfferMadeV1",
    "ReviewAssignedV1",
    "ReviewSubmittedV1",
    "Submitter",
    "parse_event",
]
