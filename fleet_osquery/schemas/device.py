"""POST /api/v1/osquery/device_token: a host gets or refreshes its Fleet Desktop device token
through its node key (see docs/device-routes.md)."""

from __future__ import annotations

import datetime as dt

import msgspec


class DeviceTokenRequest(msgspec.Struct):
    node_key: str = ""
    # The token the host holds, if any: still the host's, it is refreshed instead of replaced.
    device_auth_token: str = ""


class DeviceTokenResponse(msgspec.Struct):
    device_auth_token: str
    expires_at: dt.datetime
