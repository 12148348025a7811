"""Fleet's YAML documents (``apiVersion: v1``, ``kind``, ``spec``): read and checked locally,
compared with what the server has, applied in dependency order, and exported back.

The same normalised form serves both directions: ``export`` writes it and ``plan`` compares a
document's normalised spec with the exported one, so a file produced by ``get --yaml`` applies
as "unchanged".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import msgspec
import yaml

from fleet_http.client import AsyncFleetClient, NotFound

Json = dict[str, Any]

# Applied in this order: what a later kind names (labels and teams in packs, teams in queries,
# policies and roles) exists by the time it is sent.
KINDS = ("config", "enroll_secret", "label", "team", "query", "pack", "policy", "user_roles")


class SpecError(Exception):
    """A document that cannot be applied, located by file, document number (from 1) and field."""

    def __init__(self, file: str, doc: int | None, field: str | None, reason: str) -> None:
        self.file, self.doc, self.field, self.reason = file, doc, field, reason
        where = file if doc is None else f"{file}, document {doc}"
        super().__init__(f"{where}: {field + ': ' if field else ''}{reason}")


@attrs.frozen
class Doc:
    file: str
    number: int
    kind: str
    spec: Json

    @property
    def name(self) -> str:
        if self.kind == "team":
            return str(self.spec["team"]["name"])
        if self.kind in ("config", "enroll_secret", "user_roles"):
            return self.kind
        return str(self.spec["name"])

    def describe(self) -> str:
        return f"{self.kind} {self.name!r}" if self.kind not in ("config", "enroll_secret", "user_roles") else self.kind


# ---- reading and checking -------------------------------------------------------------------

_STR, _INT, _BOOL, _LIST_STR, _DICT = "a string", "an integer", "true or false", "a list of strings", "a mapping"


def _check_type(value: Any, expected: str) -> bool:
    if expected == _STR:
        return isinstance(value, str)
    if expected == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == _BOOL:
        return isinstance(value, bool)
    if expected == _LIST_STR:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict)


QUERY_FIELDS = {"name": _STR, "query": _STR, "description": _STR, "team": _STR, "interval": _INT,
                "observer_can_run": _BOOL, "platform": _STR, "min_osquery_version": _STR,
                "automations_enabled": _BOOL, "logging": _STR}
LABEL_FIELDS = {"name": _STR, "query": _STR, "description": _STR, "platform": _STR,
                "label_membership_type": _STR, "hosts": _LIST_STR}
POLICY_FIELDS = {"name": _STR, "query": _STR, "description": _STR, "resolution": _STR, "platform": _STR,
                 "critical": _BOOL, "team": _STR}
PACK_FIELDS = {"name": _STR, "description": _STR, "disabled": _BOOL, "targets": _DICT}
PACK_QUERY_FIELDS = {"query": _STR, "name": _STR, "description": _STR, "interval": _INT, "snapshot": _BOOL,
                     "removed": _BOOL, "shard": _INT, "platform": _STR, "version": _STR, "denylist": _BOOL}
TEAM_FIELDS = {"name": _STR, "agent_options": _DICT}


class _Checker:
    def __init__(self, file: str, number: int) -> None:
        self.file, self.number = file, number

    def fail(self, field: str | None, reason: str) -> SpecError:
        return SpecError(self.file, self.number, field, reason)

    def fields(self, data: Json, types: dict[str, str], prefix: str, required: Iterable[str] = ()) -> Json:
        """Known keys of ``data`` with their types checked (a null is left out); other keys are
        dropped, as Fleet's own YAML carries extras (the standard library's ``purpose``...)."""
        out: Json = {}
        for key, expected in types.items():
            if data.get(key) is None:
                continue
            if not _check_type(data[key], expected):
                raise self.fail(f"{prefix}{key}", f"must be {expected}, not {data[key]!r}")
            out[key] = data[key]
        for key in required:
            if key not in out or out[key] == "":
                raise self.fail(f"{prefix}{key}", "is required")
        return out


def read_documents(text: str, file: str) -> list[Doc]:
    """Every document of one YAML file (or JSON lines, as ``get --json`` prints), checked;
    SpecError names the first problem."""
    if text.lstrip().startswith("{"):
        raw_docs = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    raw_docs.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SpecError(file, None, None, f"not valid JSON on line {line_number}: {exc.msg}") from None
        return _checked(raw_docs, file)
    try:
        raw_docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise SpecError(file, None, None, f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return _checked(raw_docs, file)


def _checked(raw_docs: list[Any], file: str) -> list[Doc]:
    docs = [check_document(raw, file, number) for number, raw in enumerate(raw_docs, start=1)]
    seen: dict[tuple[str, str, str], int] = {}
    for doc in docs:
        key = (doc.kind, str(doc.spec.get("team", "")) if doc.kind in ("query", "policy") else "", doc.name)
        if key in seen and doc.kind not in ("config", "user_roles"):
            raise SpecError(file, doc.number, "spec.name", f"{doc.describe()} is also document {seen[key]}")
        seen[key] = doc.number
    return docs


def check_document(raw: Any, file: str, number: int) -> Doc:
    c = _Checker(file, number)
    if not isinstance(raw, dict):
        raise c.fail(None, "a document must be a mapping with apiVersion, kind and spec")
    if raw.get("apiVersion") != "v1":
        raise c.fail("apiVersion", f"must be v1, not {raw.get('apiVersion')!r}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise c.fail("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        raise c.fail("spec", "is required and must be a mapping")
    return Doc(file, number, kind, _CHECKS[kind](c, spec))


def _query(c: _Checker, spec: Json) -> Json:
    return c.fields(spec, QUERY_FIELDS, "spec.", required=("name", "query"))


def _label(c: _Checker, spec: Json) -> Json:
    out = c.fields(spec, LABEL_FIELDS, "spec.", required=("name",))
    membership = out.get("label_membership_type", "dynamic")
    if membership not in ("dynamic", "manual"):
        raise c.fail("spec.label_membership_type", f"must be dynamic or manual, not {membership!r}")
    if membership == "dynamic" and not out.get("query"):
        raise c.fail("spec.query", "is required for a dynamic label")
    return out


def _policy(c: _Checker, spec: Json) -> Json:
    return c.fields(spec, POLICY_FIELDS, "spec.", required=("name", "query"))


def _pack(c: _Checker, spec: Json) -> Json:
    out = c.fields(spec, PACK_FIELDS, "spec.", required=("name",))
    targets = out.get("targets")
    if targets is not None:
        out["targets"] = c.fields(targets, {"labels": _LIST_STR, "teams": _LIST_STR}, "spec.targets.")
    queries = spec.get("queries") or []
    if not isinstance(queries, list):
        raise c.fail("spec.queries", "must be a list")
    checked = []
    for i, entry in enumerate(queries):
        if not isinstance(entry, dict):
            raise c.fail(f"spec.queries[{i}]", "must be a mapping")
        one = c.fields(entry, PACK_QUERY_FIELDS, f"spec.queries[{i}].", required=("query", "interval"))
        if one["interval"] <= 0:
            raise c.fail(f"spec.queries[{i}].interval", "must be positive")
        checked.append(one)
    out["queries"] = checked
    return out


def _team(c: _Checker, spec: Json) -> Json:
    team = spec.get("team")
    if not isinstance(team, dict):
        raise c.fail("spec.team", "is required and must be a mapping with the team's name")
    out = c.fields(team, TEAM_FIELDS, "spec.team.", required=("name",))
    # Settings the server decides on (webhooks, features, ...) go through for it to judge.
    out.update({k: v for k, v in team.items() if k not in out and k != "secrets" and v is not None})
    secrets = team.get("secrets")
    if secrets is not None:
        out["secrets"] = _secrets(c, secrets, "spec.team.secrets")
    return {"team": out}


def _secrets(c: _Checker, secrets: Any, field: str) -> list[Json]:
    if not isinstance(secrets, list):
        raise c.fail(field, "must be a list of {secret: ...}")
    out = []
    for i, s in enumerate(secrets):
        if not (isinstance(s, dict) and isinstance(s.get("secret"), str) and s["secret"]):
            raise c.fail(f"{field}[{i}]", "must be a mapping with a non-empty secret")
        out.append({"secret": s["secret"]})
    return out


def _enroll_secret(c: _Checker, spec: Json) -> Json:
    return {"secrets": _secrets(c, spec.get("secrets"), "spec.secrets")}


def _config(c: _Checker, spec: Json) -> Json:
    return dict(spec)


def _user_roles(c: _Checker, spec: Json) -> Json:
    roles = spec.get("roles")
    if not isinstance(roles, dict):
        raise c.fail("spec.roles", "is required: a mapping from user email to global_role and teams")
    out: Json = {}
    for email, role in roles.items():
        field = f"spec.roles.{email}"
        if not isinstance(role, dict):
            raise c.fail(field, "must be a mapping with global_role or teams")
        global_role, teams = role.get("global_role"), role.get("teams")
        if (global_role is None) == (teams is None):
            raise c.fail(field, "needs exactly one of global_role and teams")
        if global_role is not None and not isinstance(global_role, str):
            raise c.fail(f"{field}.global_role", "must be a string")
        if teams is not None:
            if not isinstance(teams, list) or not all(
                    isinstance(t, dict) and isinstance(t.get("team"), str) and isinstance(t.get("role"), str)
                    for t in teams):
                raise c.fail(f"{field}.teams", "must be a list of {team: NAME, role: ROLE}")
            teams = sorted(({"team": t["team"], "role": t["role"]} for t in teams), key=lambda t: t["team"])
        out[str(email)] = {"global_role": global_role, "teams": teams}
    return {"roles": out}


_CHECKS: dict[str, Callable[[_Checker, Json], Json]] = {
    "query": _query, "label": _label, "policy": _policy, "pack": _pack, "team": _team,
    "enroll_secret": _enroll_secret, "config": _config, "user_roles": _user_roles,
}


# ---- normalised form ------------------------------------------------------------------------

QUERY_DEFAULTS: Json = {"name": "", "description": "", "query": "", "team": "", "interval": 0,
                        "observer_can_run": False, "platform": "", "min_osquery_version": "",
                        "automations_enabled": False, "logging": "snapshot"}
POLICY_DEFAULTS: Json = {"name": "", "query": "", "description": "", "resolution": "", "platform": "",
                         "critical": False, "team": ""}


def normal(doc: Doc) -> Json:
    """The spec with Fleet's defaults filled in, in the form ``export`` writes."""
    spec = doc.spec
    if doc.kind == "query":
        return {**QUERY_DEFAULTS, **spec, "platform": _platforms(spec.get("platform", ""))}
    if doc.kind == "policy":
        return {**POLICY_DEFAULTS, **spec, "platform": _platforms(spec.get("platform", ""))}
    if doc.kind == "label":
        out = {"name": spec["name"], "description": spec.get("description", ""), "query": spec.get("query", ""),
               "platform": spec.get("platform", ""),
               "label_membership_type": spec.get("label_membership_type", "dynamic")}
        if out["label_membership_type"] == "manual" and "hosts" in spec:
            out["hosts"] = sorted(spec["hosts"])
        return out
    if doc.kind == "pack":
        targets = spec.get("targets") or {}
        return {"name": spec["name"], "description": spec.get("description", ""),
                "disabled": spec.get("disabled", False),
                "targets": {"labels": sorted(targets.get("labels") or []), "teams": sorted(targets.get("teams") or [])},
                "queries": [_pack_query(q) for q in spec["queries"]]}
    if doc.kind == "enroll_secret":
        return {"secrets": sorted(spec["secrets"], key=lambda s: s["secret"])}
    if doc.kind == "team":
        team = dict(spec["team"])
        if "secrets" in team:
            team["secrets"] = sorted(team["secrets"], key=lambda s: s["secret"])
        return {"team": team}
    return dict(spec)


def _platforms(value: str) -> str:
    """A platform list as the server keeps it: "darwin, linux" is stored as "darwin,linux"."""
    return ",".join(p.strip() for p in value.split(",") if p.strip())


def _pack_query(q: Json) -> Json:
    out = {"query": q["query"], "name": q.get("name") or q["query"], "description": q.get("description", ""),
           "interval": q["interval"], "platform": q.get("platform", ""), "version": q.get("version", "")}
    out.update({k: q[k] for k in ("snapshot", "removed", "shard", "denylist") if q.get(k) is not None})
    return out


def _contains(have: Any, want: Any) -> bool:
    """Whether ``have`` already holds everything ``want`` sets (mappings compare key by key)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_contains(have.get(k), v) for k, v in want.items())
    return bool(have == want)


# ---- what the server has ----------------------------------------------------------------------

# GET /config fields the server reports about itself, not settings a file can change.
CONFIG_RUNTIME_KEYS = ("license", "logging", "update_interval", "vulnerabilities")


async def _teams_by_id(fleet: AsyncFleetClient) -> dict[int, str]:
    return {t.id: t.name async for t in fleet.teams()}


async def export(fleet: AsyncFleetClient, kind: str, *, name: str | None = None) -> list[Json]:
    """The server's objects of one kind as normalised specs (what ``get --yaml`` prints)."""
    if kind == "query":
        found = [{**QUERY_DEFAULTS, **{k: v for k, v in s.items() if k in QUERY_DEFAULTS}}
                 for s in map(_to_json, await fleet.get_query_specs())]
        # Team queries are not in GET /spec/queries; each team's list has them.
        for team_id, team_name in (await _teams_by_id(fleet)).items():
            async for q in fleet.queries(team_id=team_id):
                body = _to_json(q)
                found.append({**{k: body.get(k, v) for k, v in QUERY_DEFAULTS.items()}, "team": team_name})
        return found
    if kind == "label":
        out: list[Json] = []
        for label in await fleet.get_label_specs():
            if label.label_type == "builtin":
                continue
            label_spec: Json = {"name": label.name, "description": label.description, "query": label.query,
                    "platform": label.platform if isinstance(label.platform, str) else "",
                    "label_membership_type": label.label_membership_type}
            if label.label_membership_type == "manual" and isinstance(label.hosts, list):
                label_spec["hosts"] = sorted(label.hosts)
            out.append(label_spec)
        return out
    if kind == "pack":
        packs = []
        for pack in await fleet.get_pack_specs():
            body = _to_json(pack)
            packs.append({"name": body["name"], "description": body["description"], "disabled": body["disabled"],
                          "targets": {"labels": sorted(body["targets"].get("labels") or []),
                                      "teams": sorted(body["targets"].get("teams") or [])},
                          "queries": [_pack_query(q) for q in body["queries"]]})
        return packs
    if kind == "team":
        team_specs: list[Json] = []
        async for team in fleet.teams():
            team_secrets = sorted(await fleet.team_secrets(team.id))
            team_spec: Json = {"name": team.name, "agent_options": team.agent_options or {}}
            if team_secrets:
                team_spec["secrets"] = [{"secret": s} for s in team_secrets]
            team_specs.append({"team": team_spec})
        return team_specs
    if kind == "policy":
        names = await _teams_by_id(fleet)
        policies = [_policy_spec(p, "") async for p in fleet.policies()]
        for team_id, team_name in names.items():
            policies += [_policy_spec(p, team_name) async for p in fleet.policies(team_id=team_id)]
        return policies
    if kind == "enroll_secret":
        global_secrets = sorted(s.secret for s in (await fleet.get_enroll_secrets()).spec.secrets)
        return [{"secrets": [{"secret": s} for s in global_secrets]}]
    if kind == "config":
        config = msgspec.structs.asdict(await fleet.get_config())
        return [{k: v for k, v in config.items() if k not in CONFIG_RUNTIME_KEYS}]
    if kind == "user_roles":
        names = await _teams_by_id(fleet)
        roles: Json = {}
        async for user in fleet.users():
            memberships = sorted(({"team": names.get(t.id, t.name), "role": t.role} for t in user.teams or []),
                                 key=lambda t: t["team"])
            roles[user.email] = {"global_role": user.global_role,
                                 "teams": None if user.global_role else memberships}
        return [{"roles": roles}]
    raise ValueError(kind)


def _policy_spec(policy: Any, team: str) -> Json:
    return {"name": policy.name, "query": policy.query, "description": policy.description,
            "resolution": policy.resolution, "platform": policy.platform, "critical": policy.critical, "team": team}


def _to_json(value: Any) -> Json:
    out: Json = msgspec.to_builtins(value)
    return out


def as_documents(kind: str, specs: list[Json]) -> list[Json]:
    return [{"apiVersion": "v1", "kind": kind, "spec": spec} for spec in specs]


def dump_yaml(docs: list[Json]) -> str:
    """YAML that reads back to ``docs``: readable Unicode unless a character (NEL, line and
    paragraph separators) would come back as a line break, then escaped (found by a property test)."""
    text: str = yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True, allow_unicode=True)
    if list(yaml.safe_load_all(text)) != docs:
        text = yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True, allow_unicode=False)
    return text


# ---- plan and apply ---------------------------------------------------------------------------


@attrs.frozen
class Step:
    doc: Doc
    action: str  # "create", "update" or "unchanged"


def _key(kind: str, spec: Json) -> str:
    if kind == "team":
        return str(spec["team"]["name"]).casefold()
    if kind in ("query", "policy"):
        return f"{spec.get('team', '')}\0{spec['name']}"
    return str(spec.get("name", kind))


async def plan(fleet: AsyncFleetClient, docs: list[Doc]) -> list[Step]:
    """What applying ``docs`` would do to each, in apply order."""
    current: dict[str, dict[str, Json]] = {}
    steps = []
    for kind in KINDS:
        ours = [d for d in docs if d.kind == kind]
        if not ours:
            continue
        if kind not in current:
            current[kind] = {_key(kind, s): s for s in await _export_for_plan(fleet, kind)}
        for doc in ours:
            want = normal(doc)
            have = current[kind].get(_key(kind, want))
            if have is None:
                steps.append(Step(doc, "create"))
            else:
                steps.append(Step(doc, "unchanged" if _contains(have, want) else "update"))
    return steps


async def _export_for_plan(fleet: AsyncFleetClient, kind: str) -> list[Json]:
    if kind in ("config", "enroll_secret", "user_roles"):
        specs = await export(fleet, kind)
        return [{**specs[0], "name": kind}]
    return await export(fleet, kind)


# The kinds whose endpoint checks a dry run without keeping anything (this server's PATCH /config
# does not take Fleet's dry_run, so a dry run never sends settings).
SERVER_DRY_RUN = ("enroll_secret", "team")


async def apply(fleet: AsyncFleetClient, steps: list[Step], *, dry_run: bool = False, force: bool = False) -> None:
    """Send every changed document, one request per kind, in KINDS order (each all or nothing)."""
    for kind in KINDS:
        changed = [s.doc for s in steps if s.doc.kind == kind and s.action != "unchanged"]
        if not changed:
            continue
        specs = [d.spec for d in changed]
        if dry_run and kind not in SERVER_DRY_RUN:
            continue  # checked locally only: these endpoints would apply for real
        if kind == "config":
            patch: Json = {}
            for spec in specs:
                patch.update(spec)
            await fleet.modify_config(patch, dry_run=dry_run, force=force)
        elif kind == "enroll_secret":
            await fleet.apply_enroll_secrets([s["secret"] for s in specs[-1]["secrets"]], dry_run=dry_run)
        elif kind == "team":
            await fleet.apply_team_specs([s["team"] for s in specs], dry_run=dry_run, force=force)
        elif kind == "label":
            await fleet.apply_label_specs(specs)
        elif kind == "query":
            await fleet.apply_query_specs(specs)
        elif kind == "pack":
            await fleet.apply_pack_specs(specs)
        elif kind == "policy":
            await fleet.apply_policy_specs(specs)
        elif kind == "user_roles":
            await _apply_roles(fleet, specs)


async def _apply_roles(fleet: AsyncFleetClient, specs: list[Json]) -> None:
    users = {u.email: u.id async for u in fleet.users()}
    teams = {name: team_id for team_id, name in (await _teams_by_id(fleet)).items()}
    for spec in specs:
        for email, role in spec["roles"].items():
            if email not in users:
                raise NotFound(404, "Resource Not Found", [{"name": f"roles.{email}", "reason": "no such user"}])
            if role["teams"] is None:
                await fleet.modify_user(users[email], global_role=role["global_role"])
                continue
            unknown = [t["team"] for t in role["teams"] if t["team"] not in teams]
            if unknown:
                raise NotFound(404, "Resource Not Found",
                               [{"name": f"roles.{email}.teams", "reason": f"no team is named {unknown[0]!r}"}])
            await fleet.modify_user(users[email], global_role=None,
                                    teams=[{"id": teams[t["team"]], "role": t["role"]} for t in role["teams"]])


async def delete(fleet: AsyncFleetClient, doc: Doc) -> str:
    """Delete what one document names; "deleted" or "not found"."""
    try:
        if doc.kind == "query":
            team_id = await _team_id(fleet, doc.spec.get("team", ""))
            await fleet.delete_query(doc.name, team_id=team_id)
        elif doc.kind == "label":
            await fleet.delete_label(doc.name)
        elif doc.kind == "pack":
            await fleet.delete_pack(doc.name)
        elif doc.kind == "team":
            team_id = await _team_id(fleet, doc.name)
            if team_id is None:
                return "not found"
            await fleet.delete_team(team_id)
        elif doc.kind == "policy":
            team_id = await _team_id(fleet, doc.spec.get("team", ""))
            ids = [p.id async for p in fleet.policies(team_id=team_id) if p.name == doc.name]
            if not ids:
                return "not found"
            await fleet.delete_policies(ids, team_id=team_id)
        else:
            return f"skipped ({doc.kind} cannot be deleted)"
    except NotFound:
        return "not found"
    return "deleted"


async def _team_id(fleet: AsyncFleetClient, name: str) -> int | None:
    if not name:
        return None
    for team_id, team_name in (await _teams_by_id(fleet)).items():
        if team_name.casefold() == name.casefold():
            return team_id
    raise NotFound(404, "Resource Not Found", [{"name": "team", "reason": f"no team is named {name!r}"}])
