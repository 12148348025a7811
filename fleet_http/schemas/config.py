"""Request and response bodies of enroll secrets (global and per team), activities, version and certificate."""

from __future__ import annotations

from typing import Any

import msgspec

from fleet_core.model.activities import Activity
from fleet_core.model.secrets import EnrollSecret
from fleet_http.schemas.common import ts


class SecretBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    secret: str
    created_at: str
    team_id: int | None = None


def to_secret(secret: EnrollSecret) -> SecretBody:
    return SecretBody(secret=secret.secret, created_at=ts(secret.created_at), team_id=secret.team_id)


class SecretInput(msgspec.Struct, kw_only=True):
    secret: str = ""


class SecretsSpec(msgspec.Struct, kw_only=True):
    secrets: list[SecretInput] = msgspec.field(default_factory=list)


class ApplyEnrollSecretSpecRequest(msgspec.Struct, kw_only=True):
    spec: SecretsSpec | None = None
    dry_run: bool = False


class EnrollSecretSpecResponse(msgspec.Struct, kw_only=True):
    spec: SecretsSpecOut


class SecretsSpecOut(msgspec.Struct, kw_only=True):
    secrets: list[SecretBody]


class TeamSecretsRequest(msgspec.Struct, kw_only=True):
    secrets: list[SecretInput] | None = None


class TeamSecretsResponse(msgspec.Struct, kw_only=True):
    secrets: list[SecretBody] | None


class ActivityBody(msgspec.Struct, kw_only=True):
    created_at: str
    id: int
    actor_full_name: str
    actor_id: int | None
    actor_gravatar: str
    actor_email: str
    type: str
    details: dict[str, Any] | None


def to_activity(activity: Activity) -> ActivityBody:
    return ActivityBody(
        created_at=ts(activity.created_at), id=activity.id, actor_full_name=activity.actor_full_name,
        actor_id=activity.actor_id, actor_gravatar=activity.actor_gravatar, actor_email=activity.actor_email,
        type=activity.type, details=dict(activity.details) if activity.details is not None else None,
    )


class ListActivitiesResponse(msgspec.Struct, kw_only=True):
    activities: list[ActivityBody]


class VersionResponse(msgspec.Struct, kw_only=True):
    version: str
    branch: str
    revision: str
    go_version: str
    build_date: str
    build_user: str


class CertificateResponse(msgspec.Struct, kw_only=True):
    certificate_chain: str


class ConfigResponse(msgspec.Struct, kw_only=True):
    """GET and PATCH /config as the client reads them: Fleet's top-level blocks (the server renders
    them from AppConfig plus what it reports about itself; a test checks that every key it sends
    is a field here). The blocks stay JSON objects because PATCH /config merges them as such."""

    org_info: dict[str, Any] = msgspec.field(default_factory=dict)
    server_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    smtp_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    sso_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    host_expiry_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    features: dict[str, Any] = msgspec.field(default_factory=dict)
    agent_options: dict[str, Any] | None = None
    webhook_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    integrations: dict[str, Any] = msgspec.field(default_factory=dict)
    vulnerability_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    license: dict[str, Any] = msgspec.field(default_factory=dict)
    logging: dict[str, Any] = msgspec.field(default_factory=dict)
    update_interval: dict[str, Any] = msgspec.field(default_factory=dict)
    vulnerabilities: dict[str, Any] = msgspec.field(default_factory=dict)
