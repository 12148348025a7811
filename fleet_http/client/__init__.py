"""A typed Python client for Fleet's management API (this server's, or any that speaks Fleet's).

``AsyncFleetClient`` (asyncio, httpx) and ``FleetClient`` (the same, blocking); the results are
the server's own wire schemas (fleet_http.schemas); errors are FleetAPIError subclasses, one per
class of Fleet error. See docs/client.md.
"""

from fleet_http.client.client import AsyncFleetClient
from fleet_http.client.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    FleetAPIError,
    FleetClientError,
    FleetConnectionError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from fleet_http.client.live import Campaign, LiveQueryTimeout, Result, Status, StreamError, Totals
from fleet_http.client.sync import FleetClient, SyncCampaign
from fleet_http.client.transport import USER_AGENT

__all__ = [
    "USER_AGENT", "AsyncFleetClient", "AuthenticationFailed", "BadRequest", "Campaign", "Conflict",
    "FleetAPIError", "FleetClient", "FleetClientError", "FleetConnectionError", "LiveQueryTimeout", "NotFound",
    "PermissionDenied", "RateLimited", "Result", "ServerError", "Status", "StreamError", "SyncCampaign",
    "Totals", "ValidationFailed",
]
