"""Fleet Desktop's device-authenticated routes: the device token names the host and is the
whole credential, so no user role is involved once the token is resolved. Also the admin action
that issues a host's device token.

Every device call resolves the token through `device_host`, the one place a device token is
checked; an unknown or rotated token, or a deleted host's, fails authentication the same way.
This server offers no MDM, so the MDM calls answer as Fleet does when MDM is not turned on.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import AuthFailed, MDMNotConfigured, NotFound
from fleet_core.model.config import AppConfig
from fleet_core.model.hosts import DeviceMapping, Host, MDMInfo, MunkiInfo
from fleet_core.model.policies import HostPolicy
from fleet_core.ports import Clock, InvalidationBus, TokenGenerator, UnitOfWork, UnitOfWorkFactory
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


async def device_host(uow: UnitOfWork, tokens: TokenGenerator, token: str) -> Host:
    """The host holding this device token.

    Raises:
        AuthFailed: no host holds it (unknown, rotated, or its host was deleted).
    """
    host_id = await uow.device_tokens.host_id(tokens.digest(token)) if token else None
    host = await uow.hosts.get(host_id) if host_id is not None else None
    if host is None:
        raise AuthFailed("Authentication required")
    return host


@attrs.frozen
class DeviceHost:
    """GET /device/{token}: the host's details and the configuration Fleet Desktop shows."""

    details: HostDetails
    config: AppConfig
    # The moment the host's status (online, offline) is judged against.
    as_of: dt.datetime


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


@attrs.frozen
class DeviceService:
    uow: UnitOfWorkFactory
    clock: Clock
    tokens: TokenGenerator
    bus: InvalidationBus

    async def issue_token(self, viewer: Viewer, host_id: int) -> str:
        """A fresh device token for the host (the previous one stops working); only its hash is
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
            token = self.tokens.token()
            await uow.device_tokens.replace(host_id, self.tokens.digest(token), self.clock.now())
            await uow.commit()
        log.info("device_token_issued", host_id=host_id, user_id=viewer.user.id)
        return token

    async def authenticate(self, token: str) -> Host:
        """The host of this device token (AuthFailed if none)."""
        async with self.uow() as uow:
            return await device_host(uow, self.tokens, token)

    async def host(self, token: str) -> DeviceHost:
        """The device's host as GET /hosts/{id} shows it, with the organisation's settings."""
        async with self.uow() as uow:
            host = await device_host(uow, self.tokens, token)
            return DeviceHost(details=await host_details(uow, host), config=await uow.app_config.get(),
                              as_of=self.clock.now())

    async def policies(self, token: str) -> builtins.list[HostPolicy]:
        """The policies the device's host answers, with its responses."""
        async with self.uow() as uow:
            return await host_policies(uow, await device_host(uow, self.tokens, token))

    async def desktop(self, token: str) -> DesktopSummary:
        """What Fleet Desktop's menu needs: the failing policies (counted over the same policies
        the device's policies route lists) and the organisation's branding."""
        async with self.uow() as uow:
            host = await device_host(uow, self.tokens, token)
            failing = sum(1 for p in await host_policies(uow, host) if p.response == FAIL)
            return DesktopSummary(failing_policies_count=failing, config=await uow.app_config.get())

    async def refetch(self, token: str) -> None:
        """Ask the device's host for fresh details at its next check-in, as POST
        /hosts/{id}/refetch does."""
        async with self.uow() as uow:
            host = await device_host(uow, self.tokens, token)
            await uow.hosts.request_refetch([host.id])
            await uow.commit()
        # Other processes cache the host for the agent's hot path; they must see the flag.
        await announce(self.bus, [host.id])

    async def device_mapping(self, token: str) -> tuple[int, builtins.list[DeviceMapping]]:
        """The device's host id and the emails mapped to it."""
        async with self.uow() as uow:
            host = await device_host(uow, self.tokens, token)
            return host.id, await uow.hosts.device_mapping(host.id)

    async def macadmins(self, token: str) -> tuple[MDMInfo | None, MunkiInfo | None]:
        """The MDM enrollment and Munki version the device's host reported, if any."""
        async with self.uow() as uow:
            host = await device_host(uow, self.tokens, token)
            return await uow.hosts.mdm(host.id), await uow.hosts.munki(host.id)

    async def transparency_url(self, token: str) -> str:
        # A custom URL is a Fleet Premium setting, which this server does not offer.
        await self.authenticate(token)
        return DEFAULT_TRANSPARENCY_URL

    async def report_error(self, token: str, report: AgentErrorReport) -> Host:
        """Log an agent's error report; the device token never reaches the log, and the free-form
        additional info contributes only its keys (it may carry anything the agent saw)."""
        host = await self.authenticate(token)
        log.warning(
            "fleetd_error_reported",
            host_id=host.id,
            error_source=report.error_source[:100],
            error_source_version=report.error_source_version[:100],
            error_timestamp=report.error_timestamp[:100],
            error_message=report.error_message[:MAX_LOGGED_ERROR_CHARS],
            additional_info_keys=sorted(str(k)[:100] for k in (report.error_additional_info or {}))[:50],
        )
        return host

    async def require_mdm(self, token: str) -> None:
        """The MDM calls (FileVault key escrow, manual enrollment profile, MDM migration).

        Raises:
            AuthFailed: the token names no host (checked first, so only devices learn more).
            MDMNotConfigured: always; this server offers no MDM.
        """
        await self.authenticate(token)
        raise MDMNotConfigured()
