"""Fleet Desktop's device-authenticated routes: the device token names the host and is the
whole credential, so no user role is involved once the token is resolved. Also how a device token
is issued (by an admin, or to the host itself through its node key) and refreshed.

Every device call resolves its credential through `DeviceService._session`, the one place a
device token is checked. Tokens are stored as digests and expire (`ServerRuntime.device_token_ttl`);
an unknown, expired or replaced token, or a deleted host's, fails authentication the same way and
after the same work. Failed lookups are counted per client address and every call per token
(RateLimiter): past either bound the caller is answered 429 before any lookup. This server offers
no MDM, so the MDM calls answer as Fleet does when MDM is not turned on.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import AuthFailed, MDMNotConfigured, NotFound, RateLimited, Unavailable
from fleet_core.model.config import AppConfig
from fleet_core.model.hosts import DeviceMapping, Host, HostIdentity, MDMInfo, MunkiInfo
from fleet_core.model.policies import HostPolicy
from fleet_core.ports import (
    Clock,
    ErrorReportStore,
    InvalidationBus,
    RateLimiter,
    TokenGenerator,
    UnitOfWork,
    UnitOfWorkFactory,
)
from fleet_core.rules.policies import FAIL
from fleet_core.services.agents import announce
from fleet_core.services.hosts import HostDetails
from fleet_core.services.hosts import _details as host_details
from fleet_core.services.policies import host_policies

log = structlog.get_logger(__name__)

# Where Fleet Desktop's "Transparency" item leads unless Fleet Premium configures another URL.
DEFAULT_TRANSPARENCY_URL = "https://fleetdm.com/transparency"
# Agent error reports are free text from the device; the log keeps a bounded excerpt.
MAX_LOGGED_ERROR_CHARS = 1000
# Failed token lookups allowed per client address and window. Tokens carry 256 random bits, so
# guessing is hopeless anyway; the bound keeps a guesser from costing the database anything. It is
# generous because hosts behind one NAT address may all present a stale token after an outage.
DEVICE_FAILURES_PER_ADDRESS: Final = 60
DEVICE_FAILURE_WINDOW_SECONDS: Final = 600
# Calls allowed per token and window: Fleet Desktop polls every few minutes and the "My device"
# page makes a handful of calls at once, so a token past this is misused.
DEVICE_CALLS_PER_TOKEN: Final = 120
DEVICE_CALL_WINDOW_SECONDS: Final = 60


@attrs.frozen
class DeviceCredential:
    """What a device call presents: the token from its path and the address the connection came
    from (the peer, not a header the caller may forge)."""

    token: str = attrs.field(repr=False)
    client_address: str = ""


@attrs.frozen
class IssuedDeviceToken:
    """A device token as handed out, shown once (only its digest is stored)."""

    token: str = attrs.field(repr=False)
    expires_at: dt.datetime


@attrs.frozen
class DeviceHost:
    """GET /device/{token}: the host's details and the configuration Fleet Desktop shows."""

    details: HostDetails
    config: AppConfig


@attrs.frozen
class DesktopSummary:
    """GET /device/{token}/desktop."""

    failing_policies_count: int
    config: AppConfig


@attrs.frozen
class AgentErrorReport:
    """What fleetd reports to POST /device/{token}/debug/errors."""

    error_source: str = ""
    error_source_version: str = ""
    error_timestamp: str = ""
    error_message: str = ""
    error_additional_info: Mapping[str, Any] | None = None


class NoErrorReportStore:
    """The store of a server assembled without one: reports are only logged, and reading them is
    an outage."""

    async def add(self, report: Mapping[str, Any]) -> None:
        raise Unavailable("no error report store is configured")

    async def list(self) -> builtins.list[Mapping[str, Any]]:
        raise Unavailable("no error report store is configured")

    async def flush(self) -> None:
        raise Unavailable("no error report store is configured")


@attrs.frozen
class DeviceService:
    uow: UnitOfWorkFactory
    clock: Clock
    tokens: TokenGenerator
    bus: InvalidationBus
    # Where agent error reports are kept for GET /debug/errors.
    error_reports: ErrorReportStore
    token_ttl: dt.timedelta = dt.timedelta(hours=1)
    # None: no limits (tests of other behaviour).
    rate_limiter: RateLimiter | None = None

    # ---- issuing tokens ------------------------------------------------------------------------

    async def issue_token(self, viewer: Viewer, host_id: int) -> IssuedDeviceToken:
        """A fresh device token for the host (the previous one stops working); only its digest is
        stored, so it is shown this once.

        Raises:
            NotFound: no such host.
            PermissionDenied: the viewer may not write the host.
        """
        async with self.uow() as uow:
            host = await uow.hosts.get(host_id)
            if host is None:
                raise NotFound(f"Host with id={host_id} was not found in the datastore")
            authorize(viewer, Action.WRITE_HOSTS, team_ids=[] if host.team_id is None else [host.team_id])
            issued = await self._replace(uow, host_id)
            await uow.commit()
        log.info("device_token_issued", host_id=host_id, user_id=viewer.user.id)
        return issued

    async def host_token(self, host: HostIdentity, current: str = "") -> IssuedDeviceToken:
        """The token of a host that authenticated with its node key (POST /api/v1/osquery/device_token).

        ``current`` is the token the host holds, if any: when it is still the host's token
        (expired or not) its lifetime starts again and the same token is returned, so a running
        Fleet Desktop keeps working; otherwise a new token replaces whatever the host had.
        """
        now = self.clock.now()
        async with self.uow() as uow:
            expires_at = now + self.token_ttl
            if current and await uow.device_tokens.extend(host.id, self.tokens.digest(current), expires_at=expires_at):
                issued = IssuedDeviceToken(token=current, expires_at=expires_at)
                refreshed = True
            else:
                issued = await self._replace(uow, host.id)
                refreshed = False
            await uow.commit()
        log.info("device_token_refreshed" if refreshed else "device_token_issued", host_id=host.id)
        return issued

    async def _replace(self, uow: UnitOfWork, host_id: int) -> IssuedDeviceToken:
        now = self.clock.now()
        token = self.tokens.token()
        expires_at = now + self.token_ttl
        await uow.device_tokens.replace(host_id, self.tokens.digest(token), at=now, expires_at=expires_at)
        return IssuedDeviceToken(token=token, expires_at=expires_at)

    # ---- authenticating a device call ----------------------------------------------------------

    @asynccontextmanager
    async def _session(self, credential: DeviceCredential) -> AsyncIterator[tuple[UnitOfWork, Host]]:
        """One unit of work with the host the credential names.

        Raises:
            RateLimited: this address failed too often, or this token was used too often.
            AuthFailed: no host holds a valid token with this value.
        """
        digest = self.tokens.digest(credential.token)
        await self._admit(credential.client_address, digest)
        async with self.uow() as uow:
            # An empty token is looked up like any other, so it costs what a wrong one does.
            host_id = await uow.device_tokens.host_id(digest, now=self.clock.now())
            host = await uow.hosts.get(host_id) if host_id is not None else None
            if host is not None:
                yield uow, host
                return
        await self._count_failure(credential.client_address)
        raise AuthFailed("Authentication required")

    async def _admit(self, client_address: str, digest: str) -> None:
        if self.rate_limiter is None:
            return
        try:
            wait = await self.rate_limiter.blocked("device:addr:" + client_address, limit=DEVICE_FAILURES_PER_ADDRESS)
            if not wait:
                # Keyed by the digest: the limiter's store never holds a usable token.
                wait = await self.rate_limiter.hit("device:token:" + digest, limit=DEVICE_CALLS_PER_TOKEN,
                                                   window_seconds=DEVICE_CALL_WINDOW_SECONDS)
        except Unavailable:
            # The device routes must not depend on the limiter's store; tokens stay long and random.
            log.warning("device_rate_limiter_unavailable")
            return
        if wait:
            raise RateLimited("Too many requests, try again later", retry_after=wait)

    async def _count_failure(self, client_address: str) -> None:
        if self.rate_limiter is None:
            return
        try:
            await self.rate_limiter.hit("device:addr:" + client_address, limit=0,
                                        window_seconds=DEVICE_FAILURE_WINDOW_SECONDS)
        except Unavailable:
            log.warning("device_rate_limiter_unavailable")

    async def authenticate(self, credential: DeviceCredential) -> Host:
        """The host of this device credential (AuthFailed if none, RateLimited past a bound)."""
        async with self._session(credential) as (_, host):
            return host

    # ---- the device calls ----------------------------------------------------------------------

    async def host(self, credential: DeviceCredential) -> DeviceHost:
        """The device's host as GET /hosts/{id} shows it, with the organisation's settings."""
        async with self._session(credential) as (uow, host):
            details = await host_details(uow, host, self.clock.now())
            return DeviceHost(details=details, config=await uow.app_config.get())

    async def policies(self, credential: DeviceCredential) -> builtins.list[HostPolicy]:
        """The policies the device's host answers, with its responses."""
        async with self._session(credential) as (uow, host):
            return await host_policies(uow, host)

    async def desktop(self, credential: DeviceCredential) -> DesktopSummary:
        """What Fleet Desktop's menu needs: the failing policies (counted over the same policies
        the device's policies route lists) and the organisation's branding."""
        async with self._session(credential) as (uow, host):
            failing = sum(1 for p in await host_policies(uow, host) if p.response == FAIL)
            return DesktopSummary(failing_policies_count=failing, config=await uow.app_config.get())

    async def refetch(self, credential: DeviceCredential) -> None:
        """Ask the device's host for fresh details at its next check-in, as POST
        /hosts/{id}/refetch does."""
        async with self._session(credential) as (uow, host):
            await uow.hosts.request_refetch([host.id])
            await uow.commit()
        # Other processes cache the host for the agent's hot path; they must see the flag.
        await announce(self.bus, [host.id])

    async def device_mapping(self, credential: DeviceCredential) -> tuple[int, builtins.list[DeviceMapping]]:
        """The device's host id and the emails mapped to it."""
        async with self._session(credential) as (uow, host):
            return host.id, await uow.host_inventory.device_mapping(host.id)

    async def macadmins(self, credential: DeviceCredential) -> tuple[MDMInfo | None, MunkiInfo | None]:
        """The MDM enrollment and Munki version the device's host reported, if any."""
        async with self._session(credential) as (uow, host):
            return await uow.host_inventory.mdm(host.id), await uow.host_inventory.munki(host.id)

    async def transparency_url(self, credential: DeviceCredential) -> str:
        # A custom URL (fleet_desktop.transparency_url) is a Fleet Premium setting; on the free
        # tier Fleet always sends Fleet Desktop to its own page, and so does this server.
        await self.authenticate(credential)
        return DEFAULT_TRANSPARENCY_URL

    async def report_error(self, credential: DeviceCredential, report: AgentErrorReport) -> Host:
        """Keep an agent's error report for the admins (GET /debug/errors) and log an excerpt. The
        device token is in neither; the log gets only the keys of the free-form additional info
        (it may carry anything the agent saw). A store that cannot be reached loses the report,
        which is logged: the answer is the same 500 either way."""
        host = await self.authenticate(credential)
        log.warning(
            "fleetd_error_reported",
            host_id=host.id,
            error_source=report.error_source[:100],
            error_source_version=report.error_source_version[:100],
            error_timestamp=report.error_timestamp[:100],
            error_message=report.error_message[:MAX_LOGGED_ERROR_CHARS],
            additional_info_keys=sorted(str(k)[:100] for k in (report.error_additional_info or {}))[:50],
        )
        kept: dict[str, Any] = {
            "host_id": host.id,
            "hostname": host.hostname,
            "received_at": self.clock.now().isoformat(),
            "error_source": report.error_source,
            "error_source_version": report.error_source_version,
            "error_timestamp": report.error_timestamp,
            "error_message": report.error_message,
            "error_additional_info": dict(report.error_additional_info or {}),
        }
        try:
            await self.error_reports.add(kept)
        except Unavailable:
            log.warning("fleetd_error_not_kept", host_id=host.id)
        return host

    async def require_mdm(self, credential: DeviceCredential) -> None:
        """The MDM calls (FileVault key escrow, manual enrollment profile, MDM migration).

        Raises:
            AuthFailed: the token names no host (checked first, so only devices learn more).
            MDMNotConfigured: always; this server offers no MDM.
        """
        await self.authenticate(credential)
        raise MDMNotConfigured()
