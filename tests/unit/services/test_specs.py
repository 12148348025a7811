"""Spec applies: all or nothing, authorization before validation, dry runs that keep nothing."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument, PermissionDenied
from fleet_core.model.queries import QueryFields
from fleet_core.rules.paging import ListOptions
from fleet_core.services.setup import SetupInput
from fleet_core.services.specs import LabelSpec, QuerySpec, TeamSpec
from tests.unit.services.support import PASSWORD, MakeUser, make_team

pytestmark = pytest.mark.anyio


async def _admin(kit: InMemoryKit) -> Viewer:
    result = await kit.services.setup.setup(SetupInput(
        name="Admin", email="admin@example.com", password=PASSWORD, password_confirmation=PASSWORD,
        org_name="Acme", server_url="https://fleet.example.com"))
    return await kit.services.auth.authenticate(result.token)


async def _activity_types(kit: InMemoryKit, admin: Viewer) -> list[str]:
    return [a.type for a in await kit.services.activities.list(admin, ListOptions())]


def _state(queries: list[Any]) -> dict[str, tuple[str, int]]:
    return {q.name: (q.query, q.interval) for q in queries}


names = st.sampled_from(["alpha", "beta", " beta ", "gamma", "  "])
sql = st.sampled_from(["SELECT 1", "SELECT 2", " "])
intervals = st.sampled_from([0, 60, -1])
query_specs = st.lists(st.builds(lambda n, q, i: QuerySpec(fields=QueryFields(name=n, query=q, interval=i)),
                                 names, sql, intervals), max_size=4)


@settings(max_examples=60)
@given(first=query_specs, second=query_specs)
def test_a_query_apply_is_all_or_nothing(first: list[QuerySpec], second: list[QuerySpec]) -> None:
    def valid(specs: list[QuerySpec]) -> bool:
        stripped = [s.fields.name.strip() for s in specs]
        return (all(stripped) and len(set(stripped)) == len(stripped)
                and all(s.fields.query.strip() and s.fields.interval >= 0 for s in specs))

    async def scenario() -> None:
        kit = in_memory_kit()
        admin = await _admin(kit)
        expected: dict[str, tuple[str, int]] = {}
        for specs in (first, second):
            try:
                await kit.services.specs.apply_queries(admin, specs)
            except InvalidArgument as exc:
                assert not valid(specs)
                assert all(name.startswith("specs[") for name, _ in exc.problems)
            else:
                assert valid(specs)
                expected |= {s.fields.name.strip(): (s.fields.query, s.fields.interval) for s in specs}
            assert _state(await kit.services.specs.queries(admin)) == expected
        applied = sum(1 for specs in (first, second) if valid(specs) and specs)
        assert (await _activity_types(kit, admin)).count("applied_spec_saved_query") == applied

    anyio.run(scenario)


async def test_a_label_apply_checks_permission_before_anything_else(kit: InMemoryKit, make_user: MakeUser) -> None:
    observer = await make_user(global_role="observer")
    with pytest.raises(PermissionDenied):
        await kit.services.specs.apply_labels(observer, [LabelSpec(name="", label_membership_type="odd")])


async def test_a_label_apply_names_every_problem_of_every_spec(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.specs.apply_labels(admin, [
            LabelSpec(name="ok", query="SELECT 1"),
            LabelSpec(name=" ", query="", platform="beos"),
            LabelSpec(name="All Hosts", query="SELECT 1;"),
            LabelSpec(name="pets", label_membership_type="manual", hosts=("nowhere.local",)),
        ])
    assert sorted(name for name, _ in caught.value.problems) == [
        "specs[1].name", "specs[1].platform", "specs[1].query", "specs[2].name", "specs[3].hosts"]
    assert [v.label.name for v in await kit.services.specs.labels(admin) if v.label.label_type == "regular"] == []


async def test_a_team_dry_run_keeps_nothing(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await make_team(kit, "Existing")
    specs = [TeamSpec(name="existing", agent_options={"config": {}}, secrets=("abc",)), TeamSpec(name="New")]

    assert await kit.services.specs.apply_teams(admin, specs, dry_run=True) == {}

    async with kit.store.unit_of_work() as uow:
        assert await uow.teams.get_by_name("New") is None
        team = await uow.teams.get(team_id)
        assert team is not None and team.agent_options is None
        assert await uow.enroll_secrets.list(team_id) == []
    assert "applied_spec_team" not in await _activity_types(kit, admin)

    ids = await kit.services.specs.apply_teams(admin, specs)
    assert ids["existing"] == team_id and set(ids) == {"existing", "New"}


async def test_force_lets_unknown_agent_option_keys_through_but_not_malformed_sections(
        kit: InMemoryKit, admin: Viewer) -> None:
    odd = TeamSpec(name="T", agent_options={"config": {}, "someday": True})
    with pytest.raises(InvalidArgument):
        await kit.services.specs.apply_teams(admin, [odd])
    assert set(await kit.services.specs.apply_teams(admin, [odd], force=True)) == {"T"}
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.specs.apply_teams(admin, [TeamSpec(name="T", agent_options={"config": []})], force=True)
    assert caught.value.problems == (("specs[0].agent_options.config", "must be an object"),)


async def test_policy_specs_are_validated_before_anything_is_written(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.specs.apply_policies(admin, [{"name": "p", "query": "SELECT 1"}, {"name": "q"}])
    assert caught.value.problems == (("specs[1].query", "may not be empty"),)
    await kit.services.specs.apply_policies(admin, [{"name": "p", "query": "SELECT 1"}])
    assert [p.name for p in await kit.services.policies.list(admin)] == ["p"]
