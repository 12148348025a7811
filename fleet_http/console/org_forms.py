"""Form pieces the organisation pages share (teams, users, settings): the role choices, agent
options as YAML, and the organisation's name for the layout's brand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import yaml

from fleet_core.errors import InvalidArgument
from fleet_core.model.users import Role, TeamRole

ROLE_CHOICES: Final = [(role.value, role.value.replace("_", " ").capitalize()) for role in Role]
AGENT_OPTIONS_FIELD: Final = "agent_options"


def options_yaml(options: Mapping[str, Any] | None) -> str:
    return "" if options is None else yaml.safe_dump(dict(options), sort_keys=False, default_flow_style=False)


def parse_options_yaml(text: str) -> dict[str, Any] | None:
    """The agent options a YAML textarea holds; empty text means none of its own (None).

    Raises:
        InvalidArgument (agent_options): not YAML, or not a mapping.
    """
    if not text.strip():
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise InvalidArgument((AGENT_OPTIONS_FIELD, f"is not valid YAML{where}: {getattr(exc, 'problem', exc)}")) \
            from None
    if not isinstance(value, dict):
        raise InvalidArgument((AGENT_OPTIONS_FIELD, "must be a mapping (config:, overrides:, ...)"))
    return value


def options_errors(problems: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Every agent options problem on the one textarea (the core names sections, agent_options.config)."""
    return {AGENT_OPTIONS_FIELD: "; ".join(f"{name}: {reason}" if name != AGENT_OPTIONS_FIELD else reason
                                           for name, reason in problems)}


def roles_from_form(form: Mapping[str, str], team_ids: Sequence[int]) -> tuple[str | None, list[tuple[int, str]]]:
    """A role assignment from a form: `global_role` (empty for none) and `team_role_<id>` per team.
    The core (parse_roles) checks that exactly one kind is given."""
    global_role = form.get("global_role", "").strip() or None
    teams = [(team_id, form[f"team_role_{team_id}"]) for team_id in team_ids if form.get(f"team_role_{team_id}")]
    return global_role, teams


def team_roles_map(teams: Sequence[TeamRole]) -> dict[int, str]:
    return {m.team_id: m.role.value for m in teams}
