"""What each kind of spec apply does (fleet_core.services.specs): queries per scope, labels with
their members by hostname, teams with their options and secrets.

All-or-nothing, authorization first and dry runs are tested in test_specs.py."""

from __future__ import annotations

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.queries import QueryFields
from fleet_core.rules.paging import ListOptions
from fleet_core.services.specs import LabelSpec, QuerySpec, TeamSpec
from tests.unit.services.support import Announcements, MakeUser, create_team, enroll_host, last_activity

pytestmark = pytest.mark.anyio


async def test_query_specs_create_per_scope_and_replace_every_field(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    await kit.services.specs.apply_queries(admin, [
        QuerySpec(QueryFields(name="uptime", query="SELECT 1;", description="d", interval=60)),
        QuerySpec(QueryFields(name="uptime", query="SELECT 2;"), team="Apples"),
    ])
    await kit.services.specs.apply_queries(admin, [QuerySpec(QueryFields(name="uptime", query="SELECT 3;"))])
    replaced = await kit.services.specs.query(admin, "uptime")
    assert (replaced.query, replaced.description, replaced.interval) == ("SELECT 3;", "", 0)
    [team_query] = await kit.services.queries.list(admin, ListOptions(), team_id=team_id)
    assert team_query.query == "SELECT 2;"
    assert [q.name for q in await kit.services.specs.queries(admin)] == ["uptime"]
    activity = await last_activity(kit, admin)
    assert activity.type == "applied_spec_saved_query"
    assert [(s["name"], s["query"], s["team"]) for s in activity.details["specs"]] == [  # type: ignore[index]
        ("uptime", "SELECT 3;", "")]


async def test_query_specs_name_unknown_teams_and_need_write_access_to_the_scope(
        kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.specs.apply_queries(admin, [QuerySpec(QueryFields(name="q", query="SELECT 1;"),
                                                                 team="Nobody")])
    assert [n for n, _ in caught.value.problems] == ["specs[0].team"]
    maintainer = await make_user(teams=[(apples, "maintainer")])
    await kit.services.specs.apply_queries(maintainer, [QuerySpec(QueryFields(name="q", query="SELECT 1;"),
                                                                  team="Apples")])
    with pytest.raises(PermissionDenied):
        await kit.services.specs.apply_queries(maintainer, [QuerySpec(QueryFields(name="q", query="SELECT 1;"))])
    with pytest.raises(NotFound):
        await kit.services.specs.query(admin, "q")  # the team's query is not a global one


async def test_a_manual_label_spec_names_its_members_by_hostname(kit: InMemoryKit, admin: Viewer) -> None:
    laptop = await enroll_host(kit, admin, "laptop")
    await enroll_host(kit, admin, "laptop-2")  # a substring match is no match
    heard = Announcements(kit)
    await kit.services.specs.apply_labels(admin, [LabelSpec(name="Pets", label_membership_type="manual",
                                                            hosts=("LAPTOP",))])
    view = await kit.services.specs.label(admin, "Pets")
    assert (view.label.label_membership_type, view.hosts) == ("manual", ("laptop",))
    assert (await kit.services.labels.get(admin, view.label.id)).host_ids == (laptop.id,)
    assert heard.config_changes == 1
    await kit.services.specs.apply_labels(admin, [LabelSpec(name="Pets", label_membership_type="manual",
                                                            description="kept members")])
    assert (await kit.services.specs.label(admin, "Pets")).hosts == ("laptop",)
    assert (await last_activity(kit, admin)).type == "edited_label"


async def test_a_labels_membership_type_cannot_change_through_a_spec(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.labels.create(admin, name="Dynamic", query="SELECT 1;")
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.specs.apply_labels(admin, [LabelSpec(name="Dynamic", label_membership_type="manual",
                                                                hosts=())])
    assert [n for n, _ in caught.value.problems] == ["specs[0].label_membership_type"]
    with pytest.raises(NotFound):
        await kit.services.specs.label(admin, "Nothing")


async def test_team_specs_create_teams_and_set_their_options_and_secrets(kit: InMemoryKit, admin: Viewer) -> None:
    heard = Announcements(kit)
    options = {"config": {"options": {"distributed_interval": 9}}}
    ids = await kit.services.specs.apply_teams(admin, [TeamSpec(name="Apples", agent_options=options,
                                                                secrets=("apple-secret",))])
    team = await kit.services.teams.get(admin, ids["Apples"])
    assert (team.agent_options, [s.secret for s in team.secrets or ()]) == (options, ["apple-secret"])
    assert heard.config_changes == 1
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("applied_spec_team", {"teams": [{"id": ids["Apples"],
                                                                                  "name": "Apples"}]})
    again = await kit.services.specs.apply_teams(admin, [TeamSpec(name="APPLES", secrets=())])
    assert again == {"APPLES": ids["Apples"]}  # names compare case-insensitively
    kept = await kit.services.teams.get(admin, ids["Apples"])
    assert (kept.agent_options, [s.secret for s in kept.secrets or ()]) == (options, ["apple-secret"])
    assert heard.config_changes == 1


async def test_team_specs_refuse_unsupported_settings_and_secrets_in_use(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["global-secret"])
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.specs.apply_teams(admin, [TeamSpec(name="Apples", unsupported=("mdm",))])
    assert [n for n, _ in caught.value.problems] == ["specs[0].mdm"]
    with pytest.raises(AlreadyExists):
        await kit.services.specs.apply_teams(admin, [TeamSpec(name="Apples", secrets=("global-secret",))])
    assert await kit.services.teams.list(admin, ListOptions()) == []


async def test_team_admins_apply_specs_to_their_team_but_create_none(kit: InMemoryKit, admin: Viewer,
                                                                     make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    team_admin = await make_user(teams=[(apples, "admin")])
    assert await kit.services.specs.apply_teams(team_admin, [TeamSpec(name="Apples", secrets=("s",))]) == {
        "Apples": apples}
    with pytest.raises(PermissionDenied):
        await kit.services.specs.apply_teams(team_admin, [TeamSpec(name="Pears")])
