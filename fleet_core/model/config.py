"""The organisation-wide configuration that `GET/PATCH /config` exposes, with Fleet's defaults."""

from __future__ import annotations

from typing import Any

import attrs

# Fleet's out-of-the-box agent options (see "Get configuration" in the REST API doc).
DEFAULT_AGENT_OPTIONS: dict[str, Any] = {
    "config": {
        "options": {
            "logger_plugin": "tls",
            "pack_delimiter": "/",
            "logger_tls_period": 10,
            "distributed_plugin": "tls",
            "disable_distributed": False,
            "logger_tls_endpoint": "/api/v1/osquery/log",
            "distributed_interval": 10,
            "distributed_tls_max_attempts": 3,
        },
        "decorators": {
            "load": [
                "SELECT uuid AS host_uuid FROM system_info;",
                "SELECT hostname AS hostname FROM system_info;",
            ]
        },
    },
    "overrides": {},
}

MASKED_PASSWORD = "********"  # noqa: S105 - the placeholder Fleet shows instead of a stored secret


@attrs.frozen
class OrgInfo:
    org_name: str = ""
    org_logo_url: str = ""
    org_logo_url_light_background: str = ""
    contact_url: str = "https://fleetdm.com/company/contact"


@attrs.frozen
class ServerSettings:
    server_url: str = ""
    live_query_disabled: bool = False
    enable_analytics: bool = False
    query_reports_disabled: bool = False
    scripts_disabled: bool = False
    deferred_save_host: bool = False


@attrs.frozen
class SMTPSettings:
    enable_smtp: bool = False
    configured: bool = False
    sender_address: str = ""
    server: str = ""
    port: int = 587
    authentication_type: str = "authtype_username_password"
    user_name: str = ""
    password: str = attrs.field(default="", repr=False)
    enable_ssl_tls: bool = True
    authentication_method: str = "authmethod_plain"
    domain: str = ""
    verify_ssl_certs: bool = True
    enable_start_tls: bool = True


@attrs.frozen
class SSOSettings:
    entity_id: str = ""
    issuer_uri: str = ""
    idp_image_url: str = ""
    metadata: str = ""
    metadata_url: str = ""
    idp_name: str = ""
    enable_sso: bool = False
    enable_sso_idp_login: bool = False
    enable_jit_provisioning: bool = False


@attrs.frozen
class HostExpirySettings:
    host_expiry_enabled: bool = False
    host_expiry_window: int = 0


@attrs.frozen
class Features:
    enable_host_users: bool = True
    enable_software_inventory: bool = True
    additional_queries: dict[str, Any] | None = None


@attrs.frozen
class HostStatusWebhook:
    enable_host_status_webhook: bool = False
    destination_url: str = ""
    host_percentage: float = 0
    days_count: int = 0


@attrs.frozen
class FailingPoliciesWebhook:
    enable_failing_policies_webhook: bool = False
    destination_url: str = ""
    policy_ids: list[int] = attrs.field(factory=list)
    host_batch_size: int = 0


@attrs.frozen
class VulnerabilitiesWebhook:
    enable_vulnerabilities_webhook: bool = False
    destination_url: str = ""
    host_batch_size: int = 0


@attrs.frozen
class WebhookSettings:
    host_status_webhook: HostStatusWebhook = HostStatusWebhook()
    failing_policies_webhook: FailingPoliciesWebhook = FailingPoliciesWebhook()
    vulnerabilities_webhook: VulnerabilitiesWebhook = VulnerabilitiesWebhook()
    interval: str = "24h0m0s"


@attrs.frozen
class JiraIntegration:
    """A Jira Cloud/Server project tickets go to (basic auth with username and API token)."""

    url: str = ""
    username: str = ""
    api_token: str = attrs.field(default="", repr=False)
    project_key: str = ""
    enable_failing_policies: bool = False
    enable_software_vulnerabilities: bool = False


@attrs.frozen
class ZendeskIntegration:
    """A Zendesk group tickets go to (API token authentication as ``email/token``)."""

    url: str = ""
    email: str = ""
    api_token: str = attrs.field(default="", repr=False)
    group_id: int = 0
    enable_failing_policies: bool = False
    enable_software_vulnerabilities: bool = False


@attrs.frozen
class Integrations:
    jira: list[JiraIntegration] | None = None
    zendesk: list[ZendeskIntegration] | None = None


@attrs.frozen
class VulnerabilitySettings:
    databases_path: str = ""


@attrs.frozen
class AppConfig:
    org_info: OrgInfo = OrgInfo()
    server_settings: ServerSettings = ServerSettings()
    smtp_settings: SMTPSettings = SMTPSettings()
    sso_settings: SSOSettings = SSOSettings()
    host_expiry_settings: HostExpirySettings = HostExpirySettings()
    features: Features = Features()
    agent_options: dict[str, Any] | None = attrs.field(factory=lambda: _deep_copy(DEFAULT_AGENT_OPTIONS))
    webhook_settings: WebhookSettings = WebhookSettings()
    integrations: Integrations = Integrations()
    vulnerability_settings: VulnerabilitySettings = VulnerabilitySettings()


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
