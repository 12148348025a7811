"""Which hosts a live query or a target count selects, and which hosts its viewer may target.

A selection names hosts, labels and teams. A host is selected when (Fleet's HostIDsInTargets):

1. it is listed explicitly, or
2. the built-in "All Hosts" label is selected, or
3. labels or teams are selected and every non-empty group admits it: the custom labels (the host
   is in one of them), the built-in labels (likewise), the teams (its team is one of them; team
   id 0 stands for "no team").

Groups OR within and AND between each other. Label ids that name no label are ignored. The
viewer's team visibility applies on top: ``None`` sees every host, a set sees only hosts of
those teams (never hosts without a team).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from fleet_core.model.users import Role, User

NO_TEAM = 0


def _ids(values: Iterable[int]) -> frozenset[int]:
    return frozenset(values)


@attrs.frozen
class TargetSelection:
    """The selected host, label and team ids (order and repetition do not matter)."""

    host_ids: frozenset[int] = attrs.field(default=frozenset(), converter=_ids)
    label_ids: frozenset[int] = attrs.field(default=frozenset(), converter=_ids)
    team_ids: frozenset[int] = attrs.field(default=frozenset(), converter=_ids)

    @property
    def is_empty(self) -> bool:
        return not (self.host_ids or self.label_ids or self.team_ids)


@attrs.frozen
class LabelKinds:
    """What the stored labels are: the built-in ones (with "All Hosts") and the custom ones."""

    builtin: frozenset[int] = attrs.field(converter=_ids)
    custom: frozenset[int] = attrs.field(converter=_ids)
    all_hosts: int | None = None


@attrs.frozen
class TargetHost:
    """What the rule needs to know about one host."""

    id: int
    team_id: int | None
    label_ids: frozenset[int] = attrs.field(default=frozenset(), converter=_ids)


def is_visible(team_id: int | None, visible_team_ids: frozenset[int] | None) -> bool:
    return visible_team_ids is None or (team_id is not None and team_id in visible_team_ids)


def selector(selection: TargetSelection, kinds: LabelKinds) -> Callable[[TargetHost], bool]:
    """A predicate over TargetHost telling whether the selection picks the host (visibility aside)."""
    all_hosts = kinds.all_hosts is not None and kinds.all_hosts in selection.label_ids
    custom = selection.label_ids & kinds.custom
    builtin = selection.label_ids & kinds.builtin
    teams = selection.team_ids
    grouped = bool(custom or builtin or teams)

    def selects(host: TargetHost) -> bool:
        if host.id in selection.host_ids or all_hosts:
            return True
        if not grouped:
            return False
        if custom and not custom & host.label_ids:
            return False
        if builtin and not builtin & host.label_ids:
            return False
        return not teams or (NO_TEAM if host.team_id is None else host.team_id) in teams

    return selects


def resolve_targets(selection: TargetSelection, hosts: Iterable[TargetHost], kinds: LabelKinds, *,
                    visible_team_ids: frozenset[int] | None) -> list[int]:
    """The ids of the selected hosts the viewer may see, ascending and without repeats."""
    selects = selector(selection, kinds)
    return sorted({h.id for h in hosts if is_visible(h.team_id, visible_team_ids) and selects(h)})


def target_team_filter(user: User, *, include_observer: bool) -> frozenset[int] | None:
    """The teams whose hosts ``user`` may target (None: every host).

    Global admins and maintainers reach every host; team admins and maintainers their teams'
    hosts. An observer role (global or on a team) counts only when observers may run the
    query, so an observer's visibility is otherwise empty.
    """
    if user.global_role is not None:
        if user.global_role is not Role.OBSERVER or include_observer:
            return None
        return frozenset()
    return frozenset(m.team_id for m in user.teams if m.role is not Role.OBSERVER or include_observer)
