"""What every slice of the management API's wire shapes shares: the "absent from the JSON" marker,
Fleet's timestamp format, the empty body, and the bridge from the wire's marker to the core's.

Request structs are lenient about unknown fields, as Fleet's Go decoder is; fields default to
empty so that a missing value reaches the core's validation and comes back as a 422 naming the
field, while a value of the wrong JSON type is a 400 from decoding.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from fleet_core.model.unset import UNSET_FIELD

UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType


def ts(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z, to the second, as Fleet renders timestamps."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def patch_field(value: object) -> Any:
    """A PATCH body's field for the core: absent from the JSON (msgspec's UNSET) becomes the core's
    UNSET_FIELD ("leave it as it is"), so the core never sees a serializer's marker."""
    return UNSET_FIELD if value is UNSET else value


class EmptyResponse(msgspec.Struct):
    pass


class LicenseBody(msgspec.Struct, kw_only=True):
    tier: str
    expiration: str


# What GET /config and GET /device/{token} report: this server has Fleet's free tier.
FREE_LICENSE = LicenseBody(tier="free", expiration="0001-01-01T00:00:00Z")
