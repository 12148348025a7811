"""Targets (fleet_core.services.targets): what a viewer may target, counting it, translating names."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.queries import QueryFields
from fleet_core.rules.targets import TargetSelection
from fleet_core.services.targets import SEARCH_LIMIT, TargetMetrics, TranslateItem
from tests.unit.services.support import MakeUser, create_team, enroll_host

pytestmark = pytest.mark.anyio


async def test_a_host_search_matches_names_leaves_out_the_selected_and_stops_at_the_limit(
        kit: InMemoryKit, admin: Viewer) -> None:
    hosts = [await enroll_host(kit, admin, f"web-{i:02}") for i in range(SEARCH_LIMIT + 2)]
    await enroll_host(kit, admin, "db-01")
    found = (await kit.services.targets.search_hosts(admin, "web", excluded_host_ids=[hosts[0].id])).hosts
    assert len(found) == SEARCH_LIMIT
    assert all(h.hostname.startswith("web-") for h in found)
    assert hosts[0].id not in {h.id for h in found}
    assert [h.hostname for h in (await kit.services.targets.search_hosts(admin, " db ")).hosts] == ["db-01"]


async def test_team_users_target_only_their_teams_hosts(kit: InMemoryKit, admin: Viewer,
                                                        make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    apple = await enroll_host(kit, admin, "apple-1", team_id=apples)
    pear = await enroll_host(kit, admin, "pear-1", team_id=pears)
    maintainer = await make_user(teams=[(apples, "maintainer")])
    assert [h.id for h in (await kit.services.targets.search_hosts(maintainer, "")).hosts] == [apple.id]
    everything = TargetSelection(host_ids=[apple.id, pear.id])
    assert await kit.services.targets.resolve(maintainer, everything) == [apple.id]
    assert await kit.services.targets.resolve(admin, everything) == sorted([apple.id, pear.id])
    search = await kit.services.targets.search_targets(maintainer, "", TargetSelection())
    assert [t.team.name for t in search.teams] == ["Apples"]


async def test_observers_target_nothing_unless_observers_may_run_the_query(kit: InMemoryKit, admin: Viewer,
                                                                          make_user: MakeUser) -> None:
    host = await enroll_host(kit, admin, "laptop")
    observer = await make_user(global_role="observer")
    selected = TargetSelection(host_ids=[host.id])
    with pytest.raises(BadRequest):
        await kit.services.targets.resolve(observer, selected)
    assert await kit.services.targets.resolve(observer, selected, include_observer=True) == [host.id]
    assert (await kit.services.targets.count_targets(observer, selected)).total == 0
    runnable = await kit.services.queries.create(admin, QueryFields(name="q", query="SELECT 1;",
                                                                    observer_can_run=True))
    assert (await kit.services.targets.count_targets(observer, selected, query_id=runnable.id)).total == 1
    with pytest.raises(NotFound):
        await kit.services.targets.count_targets(observer, selected, query_id=999)


async def test_a_saved_query_of_another_team_cannot_widen_a_search(kit: InMemoryKit, admin: Viewer,
                                                                   make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    pear_query = await kit.services.queries.create(admin, QueryFields(name="q", query="SELECT 1;",
                                                                      observer_can_run=True), team_id=pears)
    observer = await make_user(teams=[(apples, "observer")])
    with pytest.raises(PermissionDenied):
        await kit.services.targets.search_hosts(observer, "", query_id=pear_query.id)


async def test_metrics_count_online_offline_and_missing_hosts(kit: InMemoryKit, admin: Viewer,
                                                              clock: MovableClock) -> None:
    missing = await enroll_host(kit, admin, "missing")
    clock.advance(dt.timedelta(days=31))
    offline = await enroll_host(kit, admin, "offline")
    clock.advance(dt.timedelta(hours=1))
    online = await enroll_host(kit, admin, "online")
    metrics = await kit.services.targets.count_targets(admin, TargetSelection(
        host_ids=[missing.id, offline.id, online.id]))
    assert metrics == TargetMetrics(total=3, online=1, offline=2, missing_in_action=1)
    assert await kit.services.targets.count_targets(admin, TargetSelection()) == TargetMetrics()


async def test_a_label_and_a_team_together_select_the_hosts_in_both(kit: InMemoryKit, admin: Viewer) -> None:
    apples = await create_team(kit, admin, "Apples")
    in_team = await enroll_host(kit, admin, "apple-1", team_id=apples)
    labelled_in_team = await enroll_host(kit, admin, "apple-2", team_id=apples)
    labelled = await enroll_host(kit, admin, "labelled")
    await enroll_host(kit, admin, "neither")
    label = (await kit.services.labels.create(admin, name="Picked",
                                              host_ids=[labelled.id, labelled_in_team.id])).label
    resolve = kit.services.targets.resolve
    assert await resolve(admin, TargetSelection(team_ids=[apples])) == [in_team.id, labelled_in_team.id]
    assert await resolve(admin, TargetSelection(label_ids=[label.id])) == [labelled_in_team.id, labelled.id]
    assert await resolve(admin, TargetSelection(label_ids=[label.id], team_ids=[apples])) == [labelled_in_team.id]
    assert await resolve(admin, TargetSelection(host_ids=[labelled.id], team_ids=[apples])) == [
        in_team.id, labelled_in_team.id, labelled.id]  # a host picked by id is always in
    search = await kit.services.targets.search_targets(admin, "Pick", TargetSelection())
    assert [(t.label.name, t.count) for t in search.labels] == [("Picked", 2)]
    chosen = await kit.services.targets.search_targets(admin, "Pick", TargetSelection(label_ids=[label.id]))
    assert (chosen.labels, chosen.metrics.total) == ([], 2)


async def test_built_in_labels_come_first_in_a_search(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.labels.create(admin, name="A custom label", query="SELECT 1;")
    labels = (await kit.services.targets.search_targets(admin, "", TargetSelection())).labels
    kinds = [t.label.label_type for t in labels]
    assert kinds[-1] != "builtin"
    assert kinds == sorted(kinds, key=lambda kind: kind != "builtin")


async def test_translate_names_each_kind_in_order(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    host = await enroll_host(kit, admin, "laptop")
    label = (await kit.services.labels.create(admin, name="Picked", query="SELECT 1;")).label
    ids = await kit.services.targets.translate(admin, [
        TranslateItem("host", "laptop"), TranslateItem("host", "uuid-laptop"), TranslateItem("team", "Apples"),
        TranslateItem("label", "Picked"), TranslateItem("user", "admin@example.com")])
    assert ids == [host.id, host.id, team_id, label.id, admin.user.id]


async def test_translate_refuses_unknown_types_blank_and_unknown_names(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(BadRequest) as bad:
        await kit.services.targets.translate(admin, [TranslateItem("label", "nothing"), TranslateItem("pack", "x")])
    assert bad.value.name == "type"  # checked before anything is looked up
    with pytest.raises(InvalidArgument) as blank:
        await kit.services.targets.translate(admin, [TranslateItem("host", " ")])
    assert [n for n, _ in blank.value.problems] == ["identifier"]
    for kind in ("user", "label", "team", "host"):
        with pytest.raises(NotFound):
            await kit.services.targets.translate(admin, [TranslateItem(kind, "nothing")])


async def test_translate_hides_what_the_viewer_may_not_read(kit: InMemoryKit, admin: Viewer,
                                                            make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    await enroll_host(kit, admin, "pear-1", team_id=pears)
    await enroll_host(kit, admin, "loose")
    member = await make_user(teams=[(apples, "observer")])
    assert await kit.services.targets.translate(member, [TranslateItem("team", "Apples")]) == [apples]
    for item in (TranslateItem("team", "Pears"), TranslateItem("host", "pear-1"), TranslateItem("host", "loose"),
                 TranslateItem("user", "admin@example.com")):
        with pytest.raises(PermissionDenied):
            await kit.services.targets.translate(member, [item])


async def test_a_search_without_text_offers_the_most_recently_seen_hosts_first(kit: InMemoryKit, admin: Viewer,
                                                                                clock: MovableClock) -> None:
    first = await enroll_host(kit, admin, "first")
    clock.advance(dt.timedelta(minutes=1))
    second = await enroll_host(kit, admin, "second")
    assert [h.id for h in (await kit.services.targets.search_hosts(admin, "")).hosts] == [second.id, first.id]
