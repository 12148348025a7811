"""The app configuration and the enroll secrets (global and per team)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import FleetError, InvalidArgument, NotFound
from fleet_core.model.config import AppConfig, JiraIntegration, SMTPSettings, ZendeskIntegration
from fleet_core.model.mail import Email
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.secrets import EnrollSecret
from fleet_core.ports import Clock, IntegrationChecker, InvalidationBus, Mailer, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules import integrations
from fleet_core.rules.app_config import apply_patch, keep_masked_secrets, mask_secrets, validate_config
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce_config_change
from fleet_core.services.sso import SSOService

log = structlog.get_logger(__name__)

MAX_ENROLL_SECRETS = 50
MAX_ENROLL_SECRET_LENGTH = 255


def enroll_secret_problems(secrets: Sequence[str]) -> list[tuple[str, str]]:
    problems = []
    if len(secrets) > MAX_ENROLL_SECRETS:
        problems.append(("secrets", f"a maximum of {MAX_ENROLL_SECRETS} secrets is allowed"))
    if any(not s.strip() for s in secrets):
        problems.append(("secret", "enroll secret cannot be empty"))
    if any(len(s) > MAX_ENROLL_SECRET_LENGTH for s in secrets):
        problems.append(("secret", f"enroll secret must be at most {MAX_ENROLL_SECRET_LENGTH} characters"))
    if len(set(secrets)) != len(secrets):
        problems.append(("secrets", "the same secret is listed more than once"))
    return problems


@attrs.frozen
class ConfigService:
    uow: UnitOfWorkFactory
    clock: Clock
    mailer: Mailer
    runtime: ServerRuntime
    bus: InvalidationBus
    sso: SSOService
    # Tries Jira and Zendesk settings against the service when they are saved.
    checker: IntegrationChecker = attrs.field(factory=lambda: UNCONFIGURED_CHECKER)

    async def get(self, viewer: Viewer) -> AppConfig:
        """The configuration with secrets masked."""
        authorize(viewer, Action.READ_APP_CONFIG)
        async with self.uow() as uow:
            return mask_secrets(await uow.app_config.get())

    async def certificate_chain(self, viewer: Viewer) -> str:
        """The PEM chain the server presents, for those who may read the configuration.

        Raises:
            NotFound: the server is not serving TLS.
        """
        authorize(viewer, Action.READ_APP_CONFIG)
        if self.runtime.certificate_chain is None:
            raise NotFound("the server is not serving TLS, so there is no certificate chain")
        return self.runtime.certificate_chain

    async def current(self) -> AppConfig:
        """The unmasked configuration, for other services and server internals."""
        async with self.uow() as uow:
            return await uow.app_config.get()

    async def modify(self, viewer: Viewer, patch: Mapping[str, Any]) -> AppConfig:
        """Merge a PATCH body into the configuration, validate, store; returns it masked.

        When SMTP is being enabled or its settings change, a test mail goes to the admin first
        and the settings are stored as `configured` only if it was delivered (as Fleet does).
        A new Jira or Zendesk integration, or one whose credentials changed, is tried against
        the service first (credentials accepted, project or group exists).

        Raises:
            BadRequest: a field has the wrong type or is unknown.
            InvalidArgument: the result breaks a rule, the SMTP test mail failed, or the SSO
                metadata does not describe an IdP (or its URL cannot be fetched).
        """
        authorize(viewer, Action.WRITE_APP_CONFIG)
        async with self.uow() as uow:
            previous = await uow.app_config.lock()
            updated = keep_masked_secrets(previous, apply_patch(previous, patch))
            validate_config(updated)
            await self._check_integrations(previous, updated)
            # Saving sso_settings again (even unchanged) fetches the IdP metadata again at once.
            if "sso_settings" in patch or updated.sso_settings != previous.sso_settings:
                await self.sso.check_settings(updated.sso_settings)
            updated = await self._check_smtp(viewer, previous, updated)
            await uow.app_config.save(updated)
            now = self.clock.now()
            if updated.agent_options != previous.agent_options:
                await record_activity(uow, viewer.user, "edited_agent_options",
                                      {"global": True, "team_id": None, "team_name": None}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        return mask_secrets(updated)

    async def _check_integrations(self, previous: AppConfig, updated: AppConfig) -> None:
        for item in integrations.to_check(previous.integrations, updated.integrations):
            if isinstance(item, JiraIntegration):
                await self.checker.check_jira(item)
            else:
                await self.checker.check_zendesk(item)

    async def _check_smtp(self, viewer: Viewer, previous: AppConfig, updated: AppConfig) -> AppConfig:
        smtp = updated.smtp_settings
        if not smtp.enable_smtp:
            return attrs.evolve(updated, smtp_settings=attrs.evolve(smtp, configured=False))
        unchanged = attrs.evolve(previous.smtp_settings, configured=False) == attrs.evolve(smtp, configured=False)
        if unchanged and previous.smtp_settings.configured:
            return updated
        await self._send_test_email(viewer, smtp)
        return attrs.evolve(updated, smtp_settings=attrs.evolve(smtp, configured=True))

    async def send_test_email(self, viewer: Viewer) -> str:
        """Send the test mail again with the stored SMTP settings (the console's "Send test
        email"); returns the address it went to.

        Raises:
            InvalidArgument: SMTP is off, or the mail could not be sent.
        """
        authorize(viewer, Action.WRITE_APP_CONFIG)
        smtp = (await self.current()).smtp_settings
        if not smtp.enable_smtp:
            raise InvalidArgument(("SMTP Options", "SMTP is not enabled"))
        await self._send_test_email(viewer, smtp)
        return viewer.user.email

    async def _send_test_email(self, viewer: Viewer, smtp: SMTPSettings) -> None:
        try:
            await self.mailer.send(smtp, Email(
                to=viewer.user.email,
                subject="Hello from Fleet",
                text="This is a test email from Fleet: your SMTP settings work.\n",
            ))
        except FleetError as exc:
            raise InvalidArgument(("SMTP Options", f"Could not send test email: {exc}")) from None

    async def enroll_secrets(self, viewer: Viewer, team_id: int | None = None) -> list[EnrollSecret]:
        """The global secrets, or a team's. Raises NotFound for an unknown team."""
        async with self.uow() as uow:
            await _require_team(uow, team_id)
            authorize(viewer, Action.READ_ENROLL_SECRETS, team_ids=None if team_id is None else [team_id])
            return await uow.enroll_secrets.list(team_id)

    async def replace_enroll_secrets(
        self, viewer: Viewer, secrets: Sequence[str], team_id: int | None = None, *, dry_run: bool = False
    ) -> list[EnrollSecret]:
        """Make ``secrets`` the whole set (global or the team's); an empty list removes them all.

        With ``dry_run`` every check runs (including clashes with other teams) and nothing is kept.

        Raises:
            InvalidArgument: too many, empty or repeated secrets.
            AlreadyExists: a secret is in use by another team (or globally).
            NotFound: unknown team.
        """
        problems = enroll_secret_problems(secrets)
        if problems:
            raise InvalidArgument(*problems)
        async with self.uow() as uow:
            team_name = await _require_team(uow, team_id)
            authorize(viewer, Action.WRITE_ENROLL_SECRETS, team_ids=None if team_id is None else [team_id])
            stored = await uow.enroll_secrets.replace(team_id, secrets, self.clock.now())
            details = None if team_id is None else {"team_id": team_id, "team_name": team_name}
            await record_activity(uow, viewer.user, "edited_enroll_secrets", details, self.clock.now())
            if dry_run:
                return stored
            await uow.commit()
        log.info("enroll_secrets_replaced", team_id=team_id, count=len(stored))
        return stored


class _UnconfiguredChecker:
    """For assemblies that cannot reach ticket systems: every integration is refused."""

    async def check_jira(self, jira: JiraIntegration) -> None:
        raise InvalidArgument(("url", "this server is not configured to reach Jira"))

    async def check_zendesk(self, zendesk: ZendeskIntegration) -> None:
        raise InvalidArgument(("url", "this server is not configured to reach Zendesk"))


UNCONFIGURED_CHECKER: IntegrationChecker = _UnconfiguredChecker()


async def _require_team(uow: UnitOfWork, team_id: int | None) -> str | None:
    if team_id is None:
        return None
    team = await uow.teams.get(team_id)
    if team is None:
        raise NotFound(f"Team with id={team_id} was not found in the datastore")
    return team.name
