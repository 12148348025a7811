"""Request and response bodies of the spec API (fleetctl's QuerySpec, LabelSpec, TeamSpec, ...)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from fleet_core.errors import BadRequest
from fleet_core.model.packs import ScheduleFields
from fleet_core.model.queries import SavedQuery
from fleet_core.services.pack_specs import PackQuerySpec, PackSpec
from fleet_core.services.specs import LabelSpecView, TeamSpec, query_spec_details
from fleet_http.schemas.common import UNSET, UnsetType

# ---- queries --------------------------------------------------------------------------------


class QuerySpecBody(msgspec.Struct, kw_only=True):
    name: str
    description: str
    query: str
    # The team's name; "" for a global query.
    team: str
    interval: int
    observer_can_run: bool
    platform: str
    min_osquery_version: str
    automations_enabled: bool
    logging: str


class QuerySpecsResponse(msgspec.Struct, kw_only=True):
    specs: list[QuerySpecBody]


class QuerySpecResponse(msgspec.Struct, kw_only=True):
    specs: QuerySpecBody


class ApplyQuerySpec(msgspec.Struct, kw_only=True):
    name: str = ""
    description: str = ""
    query: str = ""
    team: str = ""
    interval: int = 0
    observer_can_run: bool = False
    platform: str = ""
    min_osquery_version: str = ""
    automations_enabled: bool = False
    logging: str = "snapshot"


class ApplyQuerySpecsRequest(msgspec.Struct, kw_only=True):
    specs: list[ApplyQuerySpec] | None = None


def to_query_spec(saved: SavedQuery) -> QuerySpecBody:
    return msgspec.convert(query_spec_details(saved), QuerySpecBody)


# ---- labels ---------------------------------------------------------------------------------


class LabelSpecBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    name: str
    description: str
    query: str
    # Fleet leaves out an empty platform, the label type of regular labels and, for dynamic
    # labels, the hosts.
    platform: str | UnsetType = UNSET
    label_type: str | UnsetType = UNSET
    label_membership_type: str
    hosts: list[str] | UnsetType = UNSET


class LabelSpecsResponse(msgspec.Struct, kw_only=True):
    specs: list[LabelSpecBody]


class LabelSpecResponse(msgspec.Struct, kw_only=True):
    specs: LabelSpecBody


class ApplyLabelSpec(msgspec.Struct, kw_only=True):
    name: str = ""
    description: str = ""
    query: str = ""
    platform: str = ""
    label_membership_type: str = ""
    # Hostnames of a manual label's members.
    hosts: list[str] | None = None
    # What GET /spec/labels shows, so its output applies as is; a label is matched by name.
    id: int | None = None
    label_type: str | None = None


class ApplyLabelSpecsRequest(msgspec.Struct, kw_only=True):
    specs: list[ApplyLabelSpec] | None = None


def to_label_spec(view: LabelSpecView) -> LabelSpecBody:
    label = view.label
    return LabelSpecBody(
        id=label.id, name=label.name, description=label.description, query=label.query,
        platform=label.platform or UNSET, label_type="builtin" if label.label_type == "builtin" else UNSET,
        label_membership_type=label.label_membership_type,
        hosts=UNSET if view.hosts is None else list(view.hosts),
    )


# ---- teams ----------------------------------------------------------------------------------


class TeamSecretSpec(msgspec.Struct, kw_only=True):
    secret: str


class ApplyTeamSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One team, checked strictly: Fleet refuses unknown keys unless the apply is forced."""

    name: str = ""
    agent_options: dict[str, Any] | None = None
    # fleetctl sends {"secret": ...} objects; the parameter table speaks of plain strings.
    secrets: list[TeamSecretSpec | str] | None = None
    # Documented team settings this server does not store: named so a spec using them is
    # refused rather than half applied.
    features: Any | UnsetType = UNSET
    mdm: Any | UnsetType = UNSET
    scripts: Any | UnsetType = UNSET
    software: Any | UnsetType = UNSET
    webhook_settings: Any | UnsetType = UNSET
    integrations: Any | UnsetType = UNSET
    host_expiry_settings: Any | UnsetType = UNSET


class ForcedTeamSpec(ApplyTeamSpec, forbid_unknown_fields=False):
    """A team of a forced apply: unknown keys are ignored, as Fleet's ``force`` documents."""


UNSUPPORTED_TEAM_SETTINGS = ("features", "mdm", "scripts", "software", "webhook_settings", "integrations",
                             "host_expiry_settings")


class ApplyTeamSpecsRequest(msgspec.Struct, kw_only=True):
    specs: list[dict[str, Any]] | None = None


class ApplyTeamSpecsResponse(msgspec.Struct, kw_only=True):
    team_ids_by_name: dict[str, int]


_AT_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<field>[^`]*)`")


def to_team_spec(index: int, raw: dict[str, Any], *, force: bool) -> TeamSpec:
    """Check one raw team spec's keys and JSON types; BadRequest names ``specs[i].<field>``."""
    try:
        body = msgspec.convert(raw, ForcedTeamSpec if force else ApplyTeamSpec)
    except msgspec.ValidationError as exc:
        match = _AT_PATH.match(str(exc))
        reason = match.group("reason") if match else str(exc)
        path = (match.group("path") if match else None) or ""
        unknown = _UNKNOWN_FIELD.search(reason)
        if unknown:
            path = f"{path}.{unknown.group('field')}"
        raise BadRequest(reason, name=f"specs[{index}]{path}") from None
    secrets = None if body.secrets is None else tuple(
        s.secret if isinstance(s, TeamSecretSpec) else s for s in body.secrets)
    return TeamSpec(
        name=body.name, agent_options=body.agent_options, secrets=secrets,
        unsupported=tuple(key for key in UNSUPPORTED_TEAM_SETTINGS if getattr(body, key) is not UNSET),
    )


# ---- policies -------------------------------------------------------------------------------


class ApplyPolicySpec(msgspec.Struct, kw_only=True):
    name: str = ""
    query: str = ""
    description: str = ""
    resolution: str = ""
    platform: str = ""
    critical: bool = False
    team: str = ""


class ApplyPolicySpecsRequest(msgspec.Struct, kw_only=True):
    specs: list[ApplyPolicySpec] | None = None


# ---- packs ----------------------------------------------------------------------------------


class PackTargetsSpec(msgspec.Struct, kw_only=True):
    labels: list[str] | None = None
    teams: list[str] | None = None


class PackQuerySpecBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    query: str
    name: str
    description: str
    interval: int
    # Fleet shows platform and version always ("" for any) and the other options only when set.
    platform: str
    version: str
    snapshot: bool | None = None
    removed: bool | None = None
    shard: int | None = None
    denylist: bool | None = None


class PackSpecBody(msgspec.Struct, kw_only=True):
    id: int
    name: str
    description: str
    disabled: bool
    targets: PackTargetsSpec
    queries: list[PackQuerySpecBody]


class PackSpecsResponse(msgspec.Struct, kw_only=True):
    specs: list[PackSpecBody]


class PackSpecResponse(msgspec.Struct, kw_only=True):
    specs: PackSpecBody


class ApplyPackQuerySpec(msgspec.Struct, kw_only=True):
    query: str = ""
    name: str = ""
    description: str = ""
    interval: int = 0
    snapshot: bool | None = None
    removed: bool | None = None
    platform: str | None = None
    version: str | None = None
    shard: int | None = None
    denylist: bool | None = None


class ApplyPackSpec(msgspec.Struct, kw_only=True):
    name: str = ""
    description: str = ""
    disabled: bool = False
    targets: PackTargetsSpec | None = None
    queries: list[ApplyPackQuerySpec] | None = None
    # What GET /spec/packs shows, so its output applies as is; a pack is matched by name.
    id: int | None = None


class ApplyPackSpecsRequest(msgspec.Struct, kw_only=True):
    specs: list[ApplyPackSpec] | None = None


def to_pack_spec(spec: PackSpec) -> PackSpecBody:
    assert spec.id is not None
    return PackSpecBody(
        id=spec.id, name=spec.name, description=spec.description, disabled=spec.disabled,
        targets=PackTargetsSpec(labels=None if spec.labels is None else list(spec.labels),
                                teams=None if spec.teams is None else list(spec.teams)),
        queries=[
            PackQuerySpecBody(
                query=q.query, name=q.name, description=q.description, interval=q.fields.interval,
                platform=q.fields.platform or "", version=q.fields.version or "", snapshot=q.fields.snapshot,
                removed=q.fields.removed, shard=q.fields.shard, denylist=q.fields.denylist)
            for q in spec.queries
        ],
    )


def from_pack_spec(body: ApplyPackSpec) -> PackSpec:
    targets = body.targets or PackTargetsSpec()
    return PackSpec(
        name=body.name, description=body.description, disabled=body.disabled,
        labels=None if targets.labels is None else tuple(targets.labels),
        teams=None if targets.teams is None else tuple(targets.teams),
        queries=tuple(
            PackQuerySpec(query=q.query, name=q.name, description=q.description, fields=ScheduleFields(
                interval=q.interval, snapshot=q.snapshot, removed=q.removed, platform=q.platform,
                version=q.version, shard=q.shard, denylist=q.denylist))
            for q in body.queries or ()
        ),
    )
