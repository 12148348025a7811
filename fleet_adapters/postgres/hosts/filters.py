"""The host filter as SQL: one WHERE condition (over ``hosts h`` joined by HOST_JOINS) for a
fleet_core.model.hosts.HostFilter, shared by the host list, its counts and the aggregates.

Status filters compare the effective seen time with bounds computed in Python from
fleet_core.rules.hosts, so SQL and the rules share their constants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, LiteralString

from fleet_adapters.postgres.hosts.columns import SEEN
from fleet_adapters.postgres.paging import search_pattern
from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HostFilter, HostStatus
from fleet_core.rules.host_filters import MDM_ENROLLMENT_STATUSES
from fleet_core.rules.host_storage import looks_like_email
from fleet_core.rules.hosts import MISSING_AFTER, NEW_FOR, ONLINE_BUFFER

CHECKIN_INTERVAL: Final[LiteralString] = (
    "(GREATEST(0, LEAST(h.distributed_interval, h.config_tls_refresh)) * interval '1 second')"
)
ONLINE: Final[LiteralString] = SEEN + " + " + CHECKIN_INTERVAL + " > %(online_after)s"
# The check-in interval is never negative, so an offline host was seen at or before online_after:
# that bound alone lets Postgres read the candidates from host_seen_times_seen_order_idx.
NOT_ONLINE_BOUND: Final[LiteralString] = SEEN + " <= %(online_after)s"
OFFLINE: Final[LiteralString] = (
    "(" + NOT_ONLINE_BOUND + " AND " + SEEN + " + " + CHECKIN_INTERVAL + " <= %(online_after)s)"
)
MISSING: Final[LiteralString] = SEEN + " <= %(missing_before)s"
NEW: Final[LiteralString] = "h.created_at >= %(new_after)s"

# The ids of the hosts whose hostname, computer_name, uuid, hardware_serial or primary_ip holds
# %(pattern)s (a search_pattern), case-insensitively: host_search holds those columns lowered
# (migration 0020), so only the pattern is lowered here.
SEARCH_MATCHES: Final[LiteralString] = (
    "SELECT s.host_id FROM host_search s"
    " WHERE s.hostname LIKE lower(%(pattern)s) OR s.computer_name LIKE lower(%(pattern)s)"
    " OR s.uuid LIKE lower(%(pattern)s) OR s.hardware_serial LIKE lower(%(pattern)s)"
    " OR s.primary_ip LIKE lower(%(pattern)s)"
)

STATUS_CLAUSES: Final[Mapping[HostStatus, LiteralString]] = {
    HostStatus.ONLINE: ONLINE,
    HostStatus.OFFLINE: OFFLINE,
    HostStatus.MISSING: MISSING,
    HostStatus.MIA: MISSING,
    HostStatus.NEW: NEW,
}
MDM_STATUS_CLAUSES: Final[Mapping[str, LiteralString]] = {
    "manual": "EXISTS (SELECT 1 FROM host_mdm hm"
              " WHERE hm.host_id = h.id AND hm.enrolled AND NOT hm.installed_from_dep)",
    "automatic": "EXISTS (SELECT 1 FROM host_mdm hm"
                 " WHERE hm.host_id = h.id AND hm.enrolled AND hm.installed_from_dep)",
    "unenrolled": "EXISTS (SELECT 1 FROM host_mdm hm WHERE hm.host_id = h.id AND NOT hm.enrolled)",
}
assert MDM_STATUS_CLAUSES.keys() == MDM_ENROLLMENT_STATUSES
# passing = the policy query returned rows, failing = it returned none; an errored run (NULL)
# is neither, but still counts as "has a result" when no response is asked for.
POLICY_CLAUSES: Final[Mapping[str, LiteralString]] = {
    "passing": "EXISTS (SELECT 1 FROM policy_membership pm"
               " WHERE pm.host_id = h.id AND pm.policy_id = %(policy_id)s::bigint AND pm.passes)",
    "failing": "EXISTS (SELECT 1 FROM policy_membership pm"
               " WHERE pm.host_id = h.id AND pm.policy_id = %(policy_id)s::bigint AND NOT pm.passes)",
    "": "EXISTS (SELECT 1 FROM policy_membership pm WHERE pm.host_id = h.id AND pm.policy_id = %(policy_id)s::bigint)",
}


# Every missing host is among those NOT_ONLINE_BOUND selects (counts of offline and missing hosts
# read only those).
assert MISSING_AFTER >= ONLINE_BUFFER


def status_bounds(now: dt.datetime) -> dict[str, dt.datetime]:
    """The parameters of the status clauses at ``now``."""
    # fleet_core.rules.hosts rearranged so the host's columns stand alone on one side:
    # seen + interval + buffer > now  <=>  seen + interval > now - buffer, and so on.
    return {"online_after": now - ONLINE_BUFFER, "missing_before": now - MISSING_AFTER, "new_after": now - NEW_FOR}


def host_filter_where(f: HostFilter, now: dt.datetime | None, query: str) -> tuple[LiteralString, dict[str, Any]]:
    """The WHERE condition (over ``hosts h``) for every set filter, and its parameters.

    Only fixed SQL fragments are joined; every value travels as a parameter. Status needs
    ``now``; the aggregate views pass None and are not filtered by status.
    """
    clauses: list[LiteralString] = []
    params: dict[str, Any] = {}
    if f.ids is not None:
        clauses.append("h.id = ANY(%(ids)s::bigint[])")
        params["ids"] = sorted(f.ids)
    if f.visible_team_ids is not None:
        clauses.append("h.team_id = ANY(%(visible_team_ids)s::bigint[])")
        params["visible_team_ids"] = sorted(f.visible_team_ids)
    if f.team_id is not None:
        clauses.append("h.team_id = %(team_id)s::bigint")
        params["team_id"] = f.team_id
    if f.no_team:
        clauses.append("h.team_id IS NULL")
    if f.status is not None and now is not None:
        clauses.append(STATUS_CLAUSES[f.status])
        params.update(status_bounds(now))
    if f.label_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM label_membership lm"
                       " WHERE lm.host_id = h.id AND lm.label_id = %(label_id)s::bigint)")
        params["label_id"] = f.label_id
    if f.policy_id is not None:
        clauses.append(POLICY_CLAUSES.get(f.policy_response or "", POLICY_CLAUSES[""]))
        params["policy_id"] = f.policy_id
    if f.software_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM host_software hs"
                       " WHERE hs.host_id = h.id AND hs.software_id = %(software_id)s::bigint)")
        params["software_id"] = f.software_id
    if f.os_id is not None:
        clauses.append("h.os_id = %(os_id)s::bigint")
        params["os_id"] = f.os_id
    if f.os_name is not None or f.os_version is not None:
        os_clause: LiteralString = "EXISTS (SELECT 1 FROM operating_systems o WHERE o.id = h.os_id"
        if f.os_name is not None:
            os_clause += " AND o.name = %(os_name)s::text"
            params["os_name"] = f.os_name
        if f.os_version is not None:
            os_clause += " AND o.version = %(os_version)s::text"
            params["os_version"] = f.os_version
        clauses.append(os_clause + ")")
    if f.mdm_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM host_mdm hm WHERE hm.host_id = h.id AND hm.mdm_id = %(mdm_id)s::bigint)")
        params["mdm_id"] = f.mdm_id
    if f.mdm_enrollment_status is not None:
        clause = MDM_STATUS_CLAUSES.get(f.mdm_enrollment_status)
        if clause is None:
            raise InvalidArgument(("mdm_enrollment_status", "must be one of automatic, manual, unenrolled"))
        clauses.append(clause)
    if f.munki_issue_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM host_munki_issues hmi"
                       " WHERE hmi.host_id = h.id AND hmi.munki_issue_id = %(munki_issue_id)s::bigint)")
        params["munki_issue_id"] = f.munki_issue_id
    if query:
        text: LiteralString = "h.id IN (" + SEARCH_MATCHES
        params["pattern"] = search_pattern(query)
        if looks_like_email(query):
            # One set of ids (a UNION, not an OR of two tests per host): Postgres reads the few
            # matching emails once through host_emails_email_idx.
            text += (" UNION SELECT e.host_id FROM host_emails e"
                     " WHERE lower(e.email) = lower(%(email)s::text)")
            params["email"] = query
        clauses.append(text + ")")
    return (" AND ".join(clauses) if clauses else "TRUE"), params


def visibility(visible_team_ids: frozenset[int] | None) -> dict[str, Any]:
    """The parameters of an ``(%(all_teams)s OR h.team_id = ANY(%(visible_team_ids)s))`` test."""
    return {"all_teams": visible_team_ids is None, "visible_team_ids": sorted(visible_team_ids or ())}
