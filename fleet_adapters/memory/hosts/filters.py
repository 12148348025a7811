"""The host filter in memory: which hosts a fleet_core.model.hosts.HostFilter matches (the
counterpart of fleet_adapters.postgres.hosts.filters)."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import attrs

from fleet_adapters.memory.hosts.tables import HostTablesRepo
from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import Host, HostFilter
from fleet_core.rules.host_filters import MDM_ENROLLMENT_STATUSES
from fleet_core.rules.host_storage import looks_like_email, os_key
from fleet_core.rules.hosts import matches_status


@attrs.define
class FilteredHostsRepo(HostTablesRepo):
    """A repository that reads hosts through the host filter."""

    def matching(self, filters: HostFilter, now: dt.datetime | None, query: str) -> builtins.list[Host]:
        """The hosts (as read) matching every set filter; status needs ``now``, and the aggregate
        views pass None and are not filtered by status."""
        if filters.mdm_enrollment_status is not None and filters.mdm_enrollment_status not in MDM_ENROLLMENT_STATUSES:
            raise InvalidArgument(("mdm_enrollment_status", "must be one of automatic, manual, unenrolled"))
        hosts = [self.fresh(h) for h in self.tables.hosts.values()]
        return [h for h in hosts if self._matches(h, filters, now, query)]

    def _matches(self, host: Host, f: HostFilter, now: dt.datetime | None, query: str) -> bool:
        t = self.tables
        checks: list[bool] = []
        if f.ids is not None:
            checks.append(host.id in f.ids)
        if f.visible_team_ids is not None:
            checks.append(host.team_id in f.visible_team_ids)
        if f.team_id is not None:
            checks.append(host.team_id == f.team_id)
        if f.no_team:
            checks.append(host.team_id is None)
        if f.status is not None and now is not None:
            checks.append(matches_status(f.status, seen=host.seen_time, created_at=host.created_at,
                                         distributed_interval=host.distributed_interval,
                                         config_tls_refresh=host.config_tls_refresh, now=now))
        if f.label_id is not None:
            checks.append(f.label_id in t.label_membership.get(host.id, ()))
        if f.policy_id is not None:
            results = dict(t.policy_membership.get(host.id, ()))
            if f.policy_id not in results:
                checks.append(False)
            elif f.policy_response == "passing":
                checks.append(results[f.policy_id] is True)
            elif f.policy_response == "failing":
                checks.append(results[f.policy_id] is False)
        if f.software_id is not None:
            checks.append(any(s == f.software_id for s, _ in t.host_software.get(host.id, ())))
        if f.os_id is not None:
            checks.append(t.os_id(host) == f.os_id)
        if f.os_name is not None or f.os_version is not None:
            key = os_key(host.os_version, host.platform)
            checks.append(key is not None and f.os_name in (None, key[0]) and f.os_version in (None, key[1]))
        if f.mdm_id is not None:
            checks.append(host.id in t.mdm and t.mdm[host.id][1] == f.mdm_id)
        if f.mdm_enrollment_status is not None:
            info = t.mdm[host.id][0] if host.id in t.mdm else None
            checks.append(info is not None and {
                "manual": info.enrolled and not info.installed_from_dep,
                "automatic": info.enrolled and info.installed_from_dep,
                "unenrolled": not info.enrolled,
            }[f.mdm_enrollment_status])
        if f.munki_issue_id is not None:
            checks.append(f.munki_issue_id in t.munki_issue_ids(host.id))
        if query:
            needle = query.lower()
            texts = (host.hostname, host.computer_name, host.uuid, host.hardware_serial, host.primary_ip)
            hit = any(needle in text.lower() for text in texts)
            if not hit and looks_like_email(query):
                hit = any(m.email.lower() == needle for m in t.emails.get(host.id, ()))
            checks.append(hit)
        return all(checks)


# Reading a host's value for an order key; Host attribute names differ for two keys.
def order_value(host: Host, key: str) -> Any:
    if key == "uptime":
        return host.uptime_seconds
    if key == "display_name":
        return host.display_name
    return getattr(host, key)


def sortable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
