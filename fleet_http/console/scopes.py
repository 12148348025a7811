"""What the admin areas (policies, labels, packs, carves) share: whether the viewer may do an
action on one scope (global or a team), form values as numbers and booleans, and a host list
for pickers. The core still decides every request; these only choose what a page offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fleet_core.authz import Action, Viewer, is_allowed
from fleet_core.model.hosts import HostFilter
from fleet_core.rules.paging import ListOptions
from fleet_core.services.hosts import HostService

# How many hosts a picker (manual label members, pack targets) offers.
PICKER_HOSTS: Final = 500


def may(viewer: Viewer, action: Action, team_id: int | None) -> bool:
    """Whether the viewer may do ``action`` on the global scope (team_id None) or on one team."""
    return is_allowed(viewer.user, action, team_ids=None if team_id is None else [team_id])


def may_global_only(viewer: Viewer, action: Action) -> bool:
    """For objects of no team (packs, the global schedule): only global roles reach them."""
    return is_allowed(viewer.user, action, team_ids=())


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def ids_of(values: Sequence[str]) -> list[int]:
    """The integers among submitted ids (anything else is not an id a picker offered)."""
    return [number for number in (int_or_none(v) for v in values) if number is not None]


def checked(value: str | None) -> bool:
    return value in ("on", "true", "1", "yes")


async def host_choices(viewer: Viewer, hosts: HostService) -> list[tuple[int, str]]:
    """(id, display name) of the hosts the viewer sees, for pickers."""
    page = await hosts.list_page(viewer, HostFilter(), ListOptions(per_page=PICKER_HOSTS, order_key="display_name"),
                                 failing_policies=False)
    return [(row.host.id, row.host.display_name) for row in page.hosts]
