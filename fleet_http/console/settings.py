"""Settings, for global admins only: organisation, server URL, SMTP (and a test email), global
agent options as YAML, global enroll secrets, host expiry, webhooks, Jira and Zendesk
integrations (tokens masked as the API masks them) and SSO.

Each section is its own form posting to /settings/<section>; every save goes through
ConfigService.modify with the section as a PATCH, so the core's validation and authorization
apply exactly as for PATCH /api/v1/fleet/config.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import BadRequest, InvalidArgument, NotFound
from fleet_core.model.config import MASKED_PASSWORD, AppConfig
from fleet_core.services.config import ConfigService
from fleet_http.console.org_forms import options_errors, options_yaml, parse_options_yaml
from fleet_http.console.pages import field_errors, form_data, redirect, render

ENROLL_SECRET_BYTES: Final = 24
SMTP_AUTH_TYPES: Final = [("authtype_username_password", "Username and password"), ("authtype_none", "None")]
SMTP_AUTH_METHODS: Final = [("authmethod_plain", "Plain"), ("authmethod_login", "Login"),
                            ("authmethod_cram_md5", "CRAM-MD5")]


def _checked(form: Mapping[str, str], name: str) -> bool:
    return form.get(name) == "on"


def _number(form: Mapping[str, str], name: str, kind: Callable[[str], Any] = int) -> Any:
    text = form.get(name, "").strip() or "0"
    try:
        return kind(text)
    except ValueError:
        raise InvalidArgument((name, "must be a number")) from None


def _id_list(form: Mapping[str, str], name: str) -> list[int]:
    try:
        return [int(part) for part in form.get(name, "").replace(",", " ").split()]
    except ValueError:
        raise InvalidArgument((name, "must be policy ids separated by commas")) from None


def _org(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    return {"org_info": {"org_name": form.get("org_name", ""), "org_logo_url": form.get("org_logo_url", "").strip()}}


def _server(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    return {"server_settings": {"server_url": form.get("server_url", "").strip()}}


def _smtp(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    return {"smtp_settings": {
        "enable_smtp": _checked(form, "enable_smtp"), "sender_address": form.get("sender_address", "").strip(),
        "server": form.get("server", "").strip(), "port": _number(form, "port"),
        "authentication_type": form.get("authentication_type", ""),
        "authentication_method": form.get("authentication_method", ""),
        "user_name": form.get("user_name", ""),
        # Left empty: the stored password stays (the page never shows it).
        "password": form.get("password") or MASKED_PASSWORD,
        "enable_ssl_tls": _checked(form, "enable_ssl_tls"), "enable_start_tls": _checked(form, "enable_start_tls"),
        "verify_ssl_certs": _checked(form, "verify_ssl_certs"), "domain": form.get("domain", "").strip(),
    }}


def _agent_options(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    return {"agent_options": parse_options_yaml(form.get("agent_options", ""))}


def _host_expiry(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    return {"host_expiry_settings": {"host_expiry_enabled": _checked(form, "host_expiry_enabled"),
                                     "host_expiry_window": _number(form, "host_expiry_window")}}


def _webhooks(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    return {"webhook_settings": {
        "interval": form.get("interval", "").strip() or current.webhook_settings.interval,
        "host_status_webhook": {
            "enable_host_status_webhook": _checked(form, "enable_host_status_webhook"),
            "destination_url": form.get("host_status_url", "").strip(),
            "host_percentage": _number(form, "host_percentage", float),
            "days_count": _number(form, "days_count"),
        },
        "failing_policies_webhook": {
            "enable_failing_policies_webhook": _checked(form, "enable_failing_policies_webhook"),
            "destination_url": form.get("failing_policies_url", "").strip(),
            "policy_ids": _id_list(form, "policy_ids"),
            "host_batch_size": _number(form, "failing_policies_batch"),
        },
        "vulnerabilities_webhook": {
            "enable_vulnerabilities_webhook": _checked(form, "enable_vulnerabilities_webhook"),
            "destination_url": form.get("vulnerabilities_url", "").strip(),
            "host_batch_size": _number(form, "vulnerabilities_batch"),
        },
    }}


def _sso(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    return {"sso_settings": {
        "enable_sso": _checked(form, "enable_sso"), "idp_name": form.get("idp_name", "").strip(),
        "entity_id": form.get("entity_id", "").strip(), "issuer_uri": form.get("issuer_uri", "").strip(),
        "idp_image_url": form.get("idp_image_url", "").strip(), "metadata_url": form.get("metadata_url", "").strip(),
        "metadata": form.get("metadata", ""), "enable_sso_idp_login": _checked(form, "enable_sso_idp_login"),
        "enable_jit_provisioning": _checked(form, "enable_jit_provisioning"),
    }}


def _integration_lists(current: AppConfig) -> dict[str, list[dict[str, Any]]]:
    """The integrations of a masked configuration (ConfigService.get) as PATCH items: their
    tokens are the mask, which the core (keep_masked_secrets) turns back into the stored tokens."""
    return {"jira": [attrs.asdict(j) for j in current.integrations.jira or []],
            "zendesk": [attrs.asdict(z) for z in current.integrations.zendesk or []]}


def _add_integration(form: Mapping[str, str], current: AppConfig) -> dict[str, Any]:
    lists = _integration_lists(current)
    kind = form.get("kind", "")
    common = {"url": form.get("url", "").strip(), "api_token": form.get("api_token", ""),
              "enable_failing_policies": _checked(form, "enable_failing_policies"),
              "enable_software_vulnerabilities": _checked(form, "enable_software_vulnerabilities")}
    if kind == "jira":
        lists["jira"].append({**common, "username": form.get("username", "").strip(),
                              "project_key": form.get("project_key", "").strip()})
    elif kind == "zendesk":
        lists["zendesk"].append({**common, "email": form.get("email", "").strip(),
                                 "group_id": _number(form, "group_id")})
    else:
        raise InvalidArgument(("kind", "must be jira or zendesk"))
    return {"integrations": lists}


# The sections saved through ConfigService.modify: the PATCH each form makes.
SECTIONS: Final[dict[str, Callable[[Mapping[str, str], AppConfig], dict[str, Any]]]] = {
    "org": _org, "server": _server, "smtp": _smtp, "agent-options": _agent_options,
    "host-expiry": _host_expiry, "webhooks": _webhooks, "sso": _sso, "integrations": _add_integration,
}
SAVED: Final = {"org": "Organisation saved.", "server": "Server URL saved.",
                "smtp": "SMTP settings saved (a test email was sent if they changed).",
                "agent-options": "Agent options saved.", "host-expiry": "Host expiry saved.",
                "webhooks": "Webhooks saved.", "sso": "SSO settings saved.", "integrations": "Integration added."}


def _section_form(config: AppConfig) -> dict[str, dict[str, Any]]:
    """What each section's form shows, from the stored (masked) configuration."""
    hooks = config.webhook_settings
    return {
        "org": attrs.asdict(config.org_info), "server": attrs.asdict(config.server_settings),
        "smtp": {**attrs.asdict(config.smtp_settings), "password": ""},
        "host-expiry": attrs.asdict(config.host_expiry_settings), "sso": attrs.asdict(config.sso_settings),
        "webhooks": {
            "interval": hooks.interval,
            **attrs.asdict(hooks.host_status_webhook), "host_status_url": hooks.host_status_webhook.destination_url,
            "enable_failing_policies_webhook": hooks.failing_policies_webhook.enable_failing_policies_webhook,
            "failing_policies_url": hooks.failing_policies_webhook.destination_url,
            "policy_ids": ", ".join(str(i) for i in hooks.failing_policies_webhook.policy_ids),
            "failing_policies_batch": hooks.failing_policies_webhook.host_batch_size,
            "enable_vulnerabilities_webhook": hooks.vulnerabilities_webhook.enable_vulnerabilities_webhook,
            "vulnerabilities_url": hooks.vulnerabilities_webhook.destination_url,
            "vulnerabilities_batch": hooks.vulnerabilities_webhook.host_batch_size,
        },
        "integrations": {},
    }


class SettingsController(Controller):
    path = "/settings"

    async def _page(self, request: Request[Any, Any, Any], viewer: Viewer, config: ConfigService, *,
                    status_code: int = 200, section: str = "", form: Mapping[str, Any] | None = None,
                    errors: Mapping[str, str] | None = None, options_text: str | None = None) -> Response[Any]:
        # Only global admins see the settings (observers may read the configuration through the
        # API, but it is not a page for them): the same rule that refuses their saves.
        authorize(viewer, Action.WRITE_APP_CONFIG)
        current = await config.get(viewer)
        forms = _section_form(current)
        if section and form is not None:
            # What was submitted, shown again; a checkbox left unticked is absent from the form.
            shown = {key: (False if isinstance(value, bool) else value)
                     for key, value in forms.get(section, {}).items()}
            shown.update({key: (True if value == "on" else value) for key, value in form.items()})
            forms[section] = shown
        return render(request, "settings/settings.html", {
            "config": current, "forms": forms, "section": section, "errors": {section: errors or {}},
            "options_text": options_text if options_text is not None else options_yaml(current.agent_options),
            "secrets": await config.enroll_secrets(viewer), "masked": MASKED_PASSWORD,
            "auth_types": SMTP_AUTH_TYPES, "auth_methods": SMTP_AUTH_METHODS,
            "org_name": current.org_info.org_name,
        }, viewer=viewer, status_code=status_code)

    @get("")
    async def settings_page(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                            config: NamedDependency[ConfigService]) -> Response[Any]:
        return await self._page(request, viewer, config)

    @post("/smtp/test")
    async def send_test_email(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                              config: NamedDependency[ConfigService]) -> Response[Any]:
        try:
            to = await config.send_test_email(viewer)
        except InvalidArgument as exc:
            return redirect(request, "/settings#smtp", flash="; ".join(r for _, r in exc.problems), level="error")
        return redirect(request, "/settings#smtp", flash=f"Test email sent to {to}.")

    @post("/secrets/add")
    async def add_secret(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                         config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        existing = [s.secret for s in await config.enroll_secrets(viewer)]
        new = form.get("secret", "").strip() or secrets.token_urlsafe(ENROLL_SECRET_BYTES)
        try:
            await config.replace_enroll_secrets(viewer, [*existing, new])
        except InvalidArgument as exc:
            return await self._page(request, viewer, config, status_code=422, section="secrets",
                                    form={"secret": new}, errors=field_errors(exc.problems))
        return redirect(request, "/settings#secrets", flash="Enroll secret added.")

    @post("/secrets/remove")
    async def remove_secret(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                            config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        existing = [s.secret for s in await config.enroll_secrets(viewer)]
        gone = form.get("secret", "")
        if gone not in existing:
            raise NotFound("no such enroll secret")
        await config.replace_enroll_secrets(viewer, [s for s in existing if s != gone])
        return redirect(request, "/settings#secrets", flash="Enroll secret removed.")

    @post("/integrations/remove")
    async def remove_integration(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                                 config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        lists = _integration_lists(await config.get(viewer))
        kind = form.get("kind", "")
        try:
            index = int(form.get("index", ""))
            del lists[kind][index]
        except (KeyError, ValueError, IndexError):
            raise NotFound("no such integration") from None
        await config.modify(viewer, {"integrations": lists})
        return redirect(request, "/settings#integrations", flash="Integration removed.")

    @post("/{section:str}")
    async def save_section(self, request: Request[Any, Any, Any], section: FromPath[str],
                           viewer: NamedDependency[Viewer], config: NamedDependency[ConfigService]) -> Response[Any]:
        build = SECTIONS.get(section)
        if build is None:
            raise NotFound(f"no settings section {section}")
        form = await form_data(request)
        try:
            await config.modify(viewer, build(form, await config.get(viewer)))
        except InvalidArgument as exc:
            errors = (options_errors(exc.problems) if section == "agent-options" else field_errors(exc.problems))
            return await self._page(request, viewer, config, status_code=422, section=section, form=form,
                                    errors=errors, options_text=form.get("agent_options"))
        except BadRequest as exc:
            return await self._page(request, viewer, config, status_code=400, section=section, form=form,
                                    errors={exc.name.rsplit(".", 1)[-1]: exc.reason},
                                    options_text=form.get("agent_options"))
        return redirect(request, f"/settings#{section}", flash=SAVED[section])
