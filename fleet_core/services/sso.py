"""SAML single sign-on: the settings' checks, SP- and IdP-initiated login, just-in-time users.

The SAML adapter turns XML into verified claims; this service decides who may log in with them
and what a just-in-time user gets. A login is single use twice over: the AuthnRequest it answers
is taken from the shared state store, and its assertion ID is remembered until it expires.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import attrs
import structlog

from fleet_core.errors import AuthFailed, InvalidArgument, NotConfigured, PermissionDenied
from fleet_core.model.config import AppConfig, SSOSettings
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.sso import IdentityProvider, ServiceProvider, SSOLogin, VerifiedAssertion
from fleet_core.model.users import NewUser
from fleet_core.ports import Clock, SAMLServiceProvider, SSOStateStore, TokenGenerator, UnitOfWorkFactory
from fleet_core.rules.sso import assertion_email, assertion_name, jit_role, relay_url_problem
from fleet_core.services.activities import record_activity, user_details

log = structlog.get_logger(__name__)

# Where the IdP posts its response (Fleet's path); with the server URL, the ACS URL.
ACS_PATH: Final = "/api/v1/fleet/sso/callback"
# How long a login may stay at the IdP between POST /sso and the callback.
REQUEST_LIFETIME: Final = dt.timedelta(minutes=5)
# An assertion ID is remembered this long past its own NotOnOrAfter (the toolkit's clock skew).
ASSERTION_SKEW: Final = dt.timedelta(minutes=5)
# For an assertion that states no end (SubjectConfirmationData without NotOnOrAfter).
ASSERTION_MEMORY_WITHOUT_END: Final = dt.timedelta(hours=24)
# The page an IdP-initiated login lands on.
IDP_INITIATED_RELAY_URL: Final = "/"


@attrs.frozen
class SSOService:
    uow: UnitOfWorkFactory
    clock: Clock
    tokens: TokenGenerator
    runtime: ServerRuntime
    # None in a services bundle built without SSO (tests that never use it): SSO is then off.
    saml_provider: SAMLServiceProvider | None = None
    state_store: SSOStateStore | None = None

    @property
    def saml(self) -> SAMLServiceProvider:
        if self.saml_provider is None:
            raise NotConfigured("SAML single sign-on is not available in this server process")
        return self.saml_provider

    @property
    def store(self) -> SSOStateStore:
        if self.state_store is None:
            raise NotConfigured("SAML single sign-on is not available in this server process")
        return self.state_store

    async def settings(self) -> SSOSettings:
        """The single sign-on settings; the login page shows part of them to anyone."""
        async with self.uow() as uow:
            return (await uow.app_config.get()).sso_settings

    async def check_settings(self, sso: SSOSettings) -> None:
        """Check settings about to be saved: the IdP metadata (given, or fetched from its URL now)
        must describe an IdP with a signing certificate and an SSO endpoint. A fetched document is
        kept for logins.

        Raises:
            InvalidArgument: the metadata does not parse, or its URL cannot be fetched.
        """
        if not sso.enable_sso:
            return
        if sso.metadata:
            self.saml.parse_idp_metadata(sso.metadata)
            return
        xml = await self.saml.fetch_idp_metadata(sso.metadata_url)
        try:
            self.saml.parse_idp_metadata(xml)
        except InvalidArgument as exc:
            raise InvalidArgument(*(("metadata_url", reason) for _, reason in exc.problems)) from None
        await self.store.put_metadata(sso.metadata_url, xml)

    async def refresh_metadata(self) -> None:
        """The background job: fetch the IdP metadata from its URL again, so a rotated signing
        key is picked up. A failed fetch keeps what was kept and is logged."""
        sso = await self.settings()
        if not sso.enable_sso or sso.metadata or not sso.metadata_url:
            return
        try:
            xml = await self.saml.fetch_idp_metadata(sso.metadata_url)
            self.saml.parse_idp_metadata(xml)
        except InvalidArgument as exc:
            log.warning("sso_metadata_refresh_failed", reason=str(exc))
            return
        await self.store.put_metadata(sso.metadata_url, xml)
        log.info("sso_metadata_refreshed")

    async def initiate(self, relay_url: str) -> str:
        """Start an SP-initiated login; returns the IdP URL to send the browser to.

        Raises:
            InvalidArgument: the relay URL is not a path on this server.
            NotConfigured: SSO is off, or its metadata cannot be had.
        """
        problem = relay_url_problem(relay_url)
        if problem:
            raise InvalidArgument(("relay_url", problem))
        config = await self._config()
        idp = await self._idp(config.sso_settings)
        request = self.saml.authn_request(self._sp(config), idp, relay_state="")
        await self.store.add_request(request.id, relay_url, ttl=REQUEST_LIFETIME)
        log.info("sso_initiated")
        return request.url

    async def callback(self, saml_response: str, *, remote_addr: str = "") -> SSOLogin:
        """Finish a login with the IdP's response: open a session as a password login does.

        Raises:
            AuthFailed: the response is refused (see SAMLServiceProvider.verify_response), answers
                no request in flight, is IdP-initiated while that is off, or was used before.
            PermissionDenied: no such user and no just-in-time provisioning, or the user does
                not log in with SSO.
            NotConfigured: SSO is off, or its metadata cannot be had.
        """
        config = await self._config()
        sso = config.sso_settings
        idp = await self._idp(sso)
        claimed = self.saml.claimed_request_id(saml_response)
        if claimed is None:
            if not sso.enable_sso_idp_login:
                raise AuthFailed("IdP-initiated login is not enabled")
            relay_url = IDP_INITIATED_RELAY_URL
        else:
            pending = await self.store.pending_request(claimed)
            if pending is None:
                raise AuthFailed("the SAML response answers no login in progress (unknown, expired or used)")
            relay_url = pending
        assertion = self.saml.verify_response(self._sp(config), idp, saml_response, request_id=claimed)
        if assertion.in_response_to != claimed:
            raise AuthFailed("the SAML response answers no login in progress")
        email = assertion_email(assertion.name_id, assertion.attributes)
        if not email:
            raise AuthFailed("the SAML assertion names no email address")
        name = assertion_name(email, assertion.attributes)
        now = self.clock.now()
        async with self.uow() as uow:
            user = await uow.users.get_by_email(email)
            if user is None and not sso.enable_jit_provisioning:
                log.info("sso_refused", reason="unknown user")
                raise PermissionDenied("no Fleet user has this email, and just-in-time provisioning is off")
            if user is not None and not user.sso_enabled:
                log.info("sso_refused", reason="user not sso_enabled", user_id=user.id)
                raise PermissionDenied("this user does not log in with single sign-on")
            # Single use, decided after every other check and before anything is written.
            if not await self.store.use_assertion(assertion.assertion_id, ttl=self._assertion_memory(assertion)):
                raise AuthFailed("the SAML assertion was already used")
            if claimed is not None and await self.store.take_request(claimed) is None:
                raise AuthFailed("the SAML response answers no login in progress (unknown, expired or used)")
            created = user is None
            if user is None:
                user = await uow.users.add(NewUser(name=name, email=email, password_hash="",
                                                   global_role=jit_role(assertion.attributes), sso_enabled=True))
                await record_activity(uow, user, "user_added_by_sso", user_details(user), now)
            elif sso.enable_jit_provisioning and user.name != name:
                user = await uow.users.update(attrs.evolve(user, name=name))
            token = self.tokens.token()
            await uow.sessions.add(user_id=user.id, token_hash=self.tokens.digest(token), at=now)
            await record_activity(uow, user, "user_logged_in", {"public_ip": remote_addr}, now)
            await uow.commit()
        log.info("sso_login", user_id=user.id, created=created)
        return SSOLogin(user=user, token=token, relay_url=relay_url, created_user=created)

    async def sp_metadata(self) -> str:
        """This server's SAML service provider metadata, to paste into the IdP.

        Raises:
            NotConfigured: no entity ID is configured yet.
        """
        config = await self._config(require_enabled=False)
        if not config.sso_settings.entity_id:
            raise NotConfigured("set sso_settings.entity_id first: it is this server's SAML entity ID")
        return self.saml.sp_metadata(self._sp(config))

    async def _config(self, *, require_enabled: bool = True) -> AppConfig:
        async with self.uow() as uow:
            config = await uow.app_config.get()
        if require_enabled and not config.sso_settings.enable_sso:
            raise NotConfigured("SSO is not configured")
        return config

    def _sp(self, config: AppConfig) -> ServiceProvider:
        base = (config.server_settings.server_url or self.runtime.default_server_url).rstrip("/")
        return ServiceProvider(entity_id=config.sso_settings.entity_id, acs_url=base + ACS_PATH)

    async def _idp(self, sso: SSOSettings) -> IdentityProvider:
        try:
            if sso.metadata:
                return self.saml.parse_idp_metadata(sso.metadata)
            xml = await self.store.metadata(sso.metadata_url)
            if xml is None:
                # Kept state can be lost (a Redis restart); the URL is the source.
                xml = await self.saml.fetch_idp_metadata(sso.metadata_url)
                idp = self.saml.parse_idp_metadata(xml)
                await self.store.put_metadata(sso.metadata_url, xml)
                return idp
            return self.saml.parse_idp_metadata(xml)
        except InvalidArgument as exc:
            raise NotConfigured(f"SSO identity provider metadata: {exc}") from None

    def _assertion_memory(self, assertion: VerifiedAssertion) -> dt.timedelta:
        until = assertion.not_on_or_after
        if until is None:
            return ASSERTION_MEMORY_WITHOUT_END
        return max(until - self.clock.now(), dt.timedelta(0)) + ASSERTION_SKEW
