"""Configuration files: get and apply query, label and team specs (all or nothing), and the
policy specs (all or nothing, by name)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from fleet_core.services.agents import LABEL_PREFIX
from tests.http.support import assert_error
from tests.http.test_http_hosts import add_host
from tests.http.test_http_labels import _due_host

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
LATEST = "/api/latest/fleet"
SPEC = f"{V1}/spec"
QUERY_SPEC_KEYS = {"name", "description", "query", "team", "interval", "observer_can_run", "platform",
                   "min_osquery_version", "automations_enabled", "logging"}
AGENT_OPTIONS = {
    "config": {"options": {"distributed_interval": 10, "logger_tls_period": 10},
               "decorators": {"load": ["SELECT uuid AS host_uuid FROM system_info;"]}},
    "overrides": {},
}


async def activities(fleet: Fleet, type_: str) -> list[dict[str, Any]]:
    response = await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [a["details"] for a in response.json()["activities"] if a["type"] == type_]


async def apply(fleet: Fleet, kind: str, specs: list[dict[str, Any]], headers: dict[str, str] | None = None,
                **params: Any) -> dict[str, Any]:
    response = await fleet.client.post(f"{SPEC}/{kind}", json={"specs": specs}, params=params,
                                       headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def query_specs(fleet: Fleet) -> list[dict[str, Any]]:
    response = await fleet.client.get(f"{SPEC}/queries", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    specs: list[dict[str, Any]] = response.json()["specs"]
    return specs


async def label_spec(fleet: Fleet, name: str) -> dict[str, Any]:
    response = await fleet.client.get(f"{SPEC}/labels/{name}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    spec: dict[str, Any] = response.json()["specs"]
    return spec


async def get_team(fleet: Fleet, team_id: int) -> dict[str, Any]:
    response = await fleet.client.get(f"{V1}/teams/{team_id}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    team: dict[str, Any] = response.json()["team"]
    return team


async def team_names(fleet: Fleet) -> list[str]:
    response = await fleet.client.get(f"{V1}/teams", headers=fleet.as_admin)
    return [t["name"] for t in response.json()["teams"]]


# ---- queries ------------------------------------------------------------------------------------

async def test_get_queries_lists_the_global_queries_as_specs(cast: Cast) -> None:
    fleet = cast.fleet
    created = await fleet.client.post(f"{V1}/queries", headers=fleet.as_admin, json={
        "name": "query1", "description": "query", "query": "SELECT * FROM osquery_info", "interval": 60})
    assert created.status_code == 200, created.text
    team_query = await fleet.client.post(f"{V1}/queries", headers=fleet.as_admin, json={
        "name": "team only", "query": "SELECT 1", "team_id": cast.team_one})
    assert team_query.status_code == 200, team_query.text

    specs = await query_specs(fleet)

    assert specs == [{"name": "query1", "description": "query", "query": "SELECT * FROM osquery_info", "team": "",
                      "interval": 60, "observer_can_run": False, "platform": "", "min_osquery_version": "",
                      "automations_enabled": False, "logging": "snapshot"}]
    response = await fleet.client.get(f"{LATEST}/spec/queries/query1", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"specs": specs[0]}
    assert_error(await fleet.client.get(f"{SPEC}/queries/nope", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(f"{SPEC}/queries/team only", headers=fleet.as_admin), 404)


async def test_apply_queries_creates_new_names_and_replaces_existing_ones(fleet: Fleet) -> None:
    await apply(fleet, "queries", [{"name": "osquery_schedule", "description": "old", "query": "SELECT 1",
                                    "interval": 3600, "observer_can_run": True}])

    body = await apply(fleet, "queries", [
        {"name": "new_query", "description": "a new one", "query": "SELECT * FROM osquery_info"},
        {"name": "osquery_schedule", "description": "changed", "query": "SELECT * FROM osquery_schedule"},
    ])

    assert body == {}
    specs = {s["name"]: s for s in await query_specs(fleet)}
    assert set(specs) == {"new_query", "osquery_schedule"}
    assert all(set(s) == QUERY_SPEC_KEYS for s in specs.values())
    # Applying replaces every field: what the spec leaves out goes back to its default.
    changed = specs["osquery_schedule"]
    assert (changed["description"], changed["query"], changed["interval"], changed["observer_can_run"]) == (
        "changed", "SELECT * FROM osquery_schedule", 0, False)
    listed = (await fleet.client.get(f"{V1}/queries", headers=fleet.as_admin)).json()["queries"]
    assert len(listed) == 2
    details = await activities(fleet, "applied_spec_saved_query")
    assert [[s["name"] for s in d["specs"]] for d in details] == [["osquery_schedule"],
                                                                   ["new_query", "osquery_schedule"]]
    assert details[-1]["specs"][1] == changed


async def test_one_bad_query_spec_applies_nothing(fleet: Fleet) -> None:
    await apply(fleet, "queries", [{"name": "kept", "description": "before", "query": "SELECT 1"}])
    before = await query_specs(fleet)

    response = await fleet.client.post(f"{SPEC}/queries", headers=fleet.as_admin, json={"specs": [
        {"name": "kept", "description": "after", "query": "SELECT 2"},
        {"name": "fresh", "query": "SELECT 3"},
        {"name": "broken", "query": "  ", "logging": "sometimes"},
    ]})

    assert_error(response, 422, "specs[2].query", "specs[2].logging")
    assert await query_specs(fleet) == before
    assert len(await activities(fleet, "applied_spec_saved_query")) == 1


async def test_query_specs_are_validated(cast: Cast) -> None:
    fleet = cast.fleet
    h = fleet.as_admin
    post = fleet.client.post
    assert_error(await post(f"{SPEC}/queries", json={}, headers=h), 422, "specs")
    assert_error(await post(f"{SPEC}/queries", json={"specs": "x"}, headers=h), 400, "specs")
    assert_error(await post(f"{SPEC}/queries", json={"specs": [{"name": 5}]}, headers=h), 400, "specs[0].name")
    assert_error(await post(f"{SPEC}/queries", json={"specs": [{"query": "SELECT 1"}]}, headers=h), 422,
                 "specs[0].name")
    assert_error(await post(f"{SPEC}/queries", headers=h, json={"specs": [
        {"name": "same", "query": "SELECT 1"}, {"name": " same ", "query": "SELECT 2"}]}), 422, "specs[1].name")
    assert_error(await post(f"{SPEC}/queries", headers=h, json={"specs": [
        {"name": "q", "query": "SELECT 1", "team": "No Such Team"}]}), 422, "specs[0].team")
    assert await query_specs(fleet) == []


async def test_query_specs_may_name_a_team(cast: Cast) -> None:
    fleet = cast.fleet
    await apply(fleet, "queries", [{"name": "same", "query": "SELECT 1"},
                                   {"name": "same", "query": "SELECT 2", "team": "team one"}])

    listed = (await fleet.client.get(f"{V1}/queries", params={"team_id": cast.team_one},
                                     headers=fleet.as_admin)).json()["queries"]
    assert [(q["name"], q["query"]) for q in listed] == [("same", "SELECT 2")]
    assert [(s["name"], s["query"]) for s in await query_specs(fleet)] == [("same", "SELECT 1")]
    details = await activities(fleet, "applied_spec_saved_query")
    assert [s["team"] for s in details[-1]["specs"]] == ["", "Team One"]


@pytest.mark.parametrize("role", ["observer", "team_admin", "team_maintainer", "team_observer"])
async def test_only_query_writers_apply_global_queries(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    h = cast[role].headers

    assert_error(await fleet.client.post(f"{SPEC}/queries", json={"specs": [{"name": "q", "query": "SELECT 1"}]},
                                         headers=h), 403)
    assert (await fleet.client.get(f"{SPEC}/queries", headers=h)).status_code == 200
    assert await query_specs(fleet) == []


async def test_team_writers_apply_their_teams_queries_only(cast: Cast) -> None:
    fleet = cast.fleet
    h = cast["team_maintainer"].headers

    await apply(fleet, "queries", [{"name": "mine", "query": "SELECT 1", "team": "Team One"}], headers=h)
    assert_error(await fleet.client.post(f"{SPEC}/queries", headers=h, json={"specs": [
        {"name": "mine", "query": "SELECT 1", "team": "Team One"},
        {"name": "theirs", "query": "SELECT 1", "team": "Team Two"}]}), 403)
    await apply(fleet, "queries", [{"name": "global", "query": "SELECT 1"}], headers=cast["maintainer"].headers)


# ---- labels -------------------------------------------------------------------------------------

async def test_get_labels_lists_every_label_as_a_spec(fleet: Fleet) -> None:
    response = await fleet.client.get(f"{SPEC}/labels", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    specs = response.json()["specs"]
    assert specs[0] == {"id": 1, "name": "All Hosts", "description": "All hosts which have enrolled in Fleet",
                        "query": "SELECT 1;", "label_type": "builtin", "label_membership_type": "dynamic"}
    assert all(s["label_type"] == "builtin" for s in specs)
    # An empty platform is left out, as in Fleet's example.
    assert all(s.get("platform", "x") != "" for s in specs)
    assert_error(await fleet.client.get(f"{SPEC}/labels/nope", headers=fleet.as_admin), 404)


async def test_apply_labels_creates_dynamic_and_manual_labels(fleet: Fleet) -> None:
    mine = await add_host(fleet, "snacbook-pro")  # hostname snacbook-pro.local
    await add_host(fleet, "snacbook-pro.local.other")
    announced: list[bool] = []
    fleet.kit.services.bus.subscribe_config(lambda: announced.append(True))

    await apply(fleet, "labels", [
        {"name": "Ubuntu", "description": "Filters Ubuntu hosts",
         "query": "SELECT 1 FROM os_version WHERE platform = 'ubuntu';", "label_membership_type": "dynamic"},
        {"name": "local_machine", "description": "Includes only my local machine",
         "label_membership_type": "manual", "hosts": ["SNACBOOK-pro.local"]},
    ])

    ubuntu = await label_spec(fleet, "Ubuntu")
    assert set(ubuntu) == {"id", "name", "description", "query", "label_membership_type"}
    assert ubuntu["query"] == "SELECT 1 FROM os_version WHERE platform = 'ubuntu';"
    local = await label_spec(fleet, "local_machine")
    assert {k: v for k, v in local.items() if k != "id"} == {
        "name": "local_machine", "description": "Includes only my local machine", "query": "",
        "label_membership_type": "manual", "hosts": ["snacbook-pro.local"]}
    label = (await fleet.client.get(f"{V1}/labels/{local['id']}", headers=fleet.as_admin)).json()["label"]
    assert label["host_ids"] == [mine]
    assert await activities(fleet, "created_label") == [
        {"label_id": ubuntu["id"], "label_name": "Ubuntu"}, {"label_id": local["id"], "label_name": "local_machine"}]
    assert announced == [True]


async def test_a_label_applied_as_a_spec_is_asked_at_the_next_check_in(fleet: Fleet) -> None:
    host = await _due_host(fleet, "agent")
    await apply(fleet, "labels", [{"name": "dyn", "query": "SELECT 42;"}])
    label_id = (await label_spec(fleet, "dyn"))["id"]
    fleet.clock.advance(dt.timedelta(seconds=2))

    queries = (await fleet.kit.services.agents.distributed_read(host)).queries

    assert queries[f"{LABEL_PREFIX}{label_id}"] == "SELECT 42;"


async def test_applying_an_existing_label_edits_it(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "one")
    other = await add_host(fleet, "two")
    await apply(fleet, "labels", [{"name": "dyn", "query": "SELECT 1"},
                                  {"name": "pets", "label_membership_type": "manual", "hosts": ["one.local"]}])
    dyn = await label_spec(fleet, "dyn")
    async with fleet.kit.store.unit_of_work() as uow:
        await uow.labels.record_results(host_id, {dyn["id"]: True}, fleet.clock.now())
        await uow.commit()

    await apply(fleet, "labels", [{"name": "dyn", "description": "new words", "query": "SELECT 1"},
                                  {"name": "pets", "label_membership_type": "manual"}])
    same_query = (await fleet.client.get(f"{V1}/labels/{dyn['id']}", headers=fleet.as_admin)).json()["label"]
    assert (same_query["description"], same_query["host_count"]) == ("new words", 1)
    # Leaving the hosts out keeps a manual label's members.
    assert (await label_spec(fleet, "pets"))["hosts"] == ["one.local"]

    await apply(fleet, "labels", [{"name": "dyn", "query": "SELECT 2", "platform": "ubuntu"},
                                  {"name": "pets", "label_membership_type": "manual", "hosts": ["two.local"]}])
    requeried = (await fleet.client.get(f"{V1}/labels/{dyn['id']}", headers=fleet.as_admin)).json()["label"]
    assert (requeried["query"], requeried["platform"], requeried["host_count"]) == ("SELECT 2", "ubuntu", 0)
    pets = await label_spec(fleet, "pets")
    assert pets["hosts"] == ["two.local"]
    assert (await fleet.client.get(f"{V1}/labels/{pets['id']}", headers=fleet.as_admin)).json()[
        "label"]["host_ids"] == [other]
    assert [d["label_name"] for d in await activities(fleet, "edited_label")] == ["dyn", "pets", "dyn", "pets"]


async def test_one_bad_label_spec_applies_nothing(fleet: Fleet) -> None:
    await add_host(fleet, "known")
    await apply(fleet, "labels", [{"name": "kept", "description": "before", "query": "SELECT 1"}])
    before = await label_spec(fleet, "kept")
    created = len(await activities(fleet, "created_label"))

    response = await fleet.client.post(f"{SPEC}/labels", headers=fleet.as_admin, json={"specs": [
        {"name": "kept", "description": "after", "query": "SELECT 2"},
        {"name": "fresh", "label_membership_type": "manual", "hosts": ["known.local", "unknown.local"]},
        {"name": "macOS", "query": "SELECT 1", "platform": "darwin"},
    ]})

    body = assert_error(response, 422, "specs[1].hosts", "specs[2].name")
    assert any("unknown.local" in e["reason"] for e in body["errors"])
    assert await label_spec(fleet, "kept") == before
    assert_error(await fleet.client.get(f"{SPEC}/labels/fresh", headers=fleet.as_admin), 404)
    assert len(await activities(fleet, "created_label")) == created
    assert await activities(fleet, "edited_label") == []


async def test_label_specs_are_validated(fleet: Fleet) -> None:
    await apply(fleet, "labels", [{"name": "dyn", "query": "SELECT 1"}])
    h = fleet.as_admin

    async def refused(specs: Any, status: int, *names: str) -> None:
        response = await fleet.client.post(f"{SPEC}/labels", json={"specs": specs}, headers=h)
        assert_error(response, status, *names)

    assert_error(await fleet.client.post(f"{SPEC}/labels", json={}, headers=h), 422, "specs")
    await refused([{"name": "x", "hosts": "a"}], 400, "specs[0].hosts")
    await refused([{"name": "", "query": "SELECT 1"}], 422, "specs[0].name")
    await refused([{"name": "x"}], 422, "specs[0].query")
    await refused([{"name": "x", "query": "SELECT 1", "platform": "beos"}], 422, "specs[0].platform")
    await refused([{"name": "x", "query": "SELECT 1", "label_membership_type": "sometimes"}], 422,
                  "specs[0].label_membership_type")
    await refused([{"name": "x", "query": "SELECT 1", "hosts": []}], 422, "specs[0].hosts")
    await refused([{"name": "x", "query": "SELECT 1", "label_membership_type": "manual"}], 422, "specs[0].query")
    await refused([{"name": "dyn", "label_membership_type": "manual"}], 422, "specs[0].label_membership_type")
    await refused([{"name": "x", "query": "SELECT 1"}, {"name": "x", "query": "SELECT 2"}], 422, "specs[1].name")
    names = [s["name"] for s in (await fleet.client.get(f"{SPEC}/labels", headers=h)).json()["specs"]]
    assert "x" not in names


async def test_get_labels_output_applies_back_unchanged(fleet: Fleet) -> None:
    await add_host(fleet, "one")
    await apply(fleet, "labels", [{"name": "pets", "label_membership_type": "manual", "hosts": ["one.local"]},
                                  {"name": "dyn", "query": "SELECT 1", "platform": "darwin"}])
    regular = [s for s in (await fleet.client.get(f"{SPEC}/labels", headers=fleet.as_admin)).json()["specs"]
               if "label_type" not in s]

    await apply(fleet, "labels", regular)

    again = [s for s in (await fleet.client.get(f"{SPEC}/labels", headers=fleet.as_admin)).json()["specs"]
             if "label_type" not in s]
    assert again == regular


@pytest.mark.parametrize("role", ["observer", "team_admin", "team_maintainer", "team_observer"])
async def test_only_global_writers_apply_labels(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    h = cast[role].headers

    assert_error(await fleet.client.post(f"{SPEC}/labels", json={"specs": [{"name": "x", "query": "SELECT 1"}]},
                                         headers=h), 403)
    assert (await fleet.client.get(f"{SPEC}/labels", headers=h)).status_code == 200
    assert (await fleet.client.get(f"{SPEC}/labels/macOS", headers=h)).status_code == 200
    await apply(fleet, "labels", [{"name": "x", "query": "SELECT 1"}], headers=cast["maintainer"].headers)


async def test_team_users_see_only_their_hosts_in_a_manual_label(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "mine", team_id=cast.team_one)
    await add_host(fleet, "theirs", team_id=cast.team_two)
    await apply(fleet, "labels", [{"name": "pets", "label_membership_type": "manual",
                                   "hosts": ["mine.local", "theirs.local"]}])

    response = await fleet.client.get(f"{SPEC}/labels/pets", headers=cast["team_observer"].headers)

    assert response.json()["specs"]["hosts"] == ["mine.local"]
    assert (await label_spec(fleet, "pets"))["hosts"] == ["mine.local", "theirs.local"]


# ---- teams --------------------------------------------------------------------------------------

async def test_apply_team_creates_a_team_with_options_and_secrets(fleet: Fleet) -> None:
    announced: list[bool] = []
    fleet.kit.services.bus.subscribe_config(lambda: announced.append(True))

    body = await apply(fleet, "teams", [{
        "name": "Client Platform Engineering", "agent_options": {"spec": AGENT_OPTIONS},
        "secrets": [{"secret": "fTp52/twaxBU6gIi0J6PHp8o5Sm1k1kn"}, {"secret": "bhD5kiX2J+KBgZSk118qO61ZIdX/v8On"}],
    }])

    team_id = body["team_ids_by_name"]["Client Platform Engineering"]
    assert body == {"team_ids_by_name": {"Client Platform Engineering": team_id}}
    team = await get_team(fleet, team_id)
    assert (team["name"], team["agent_options"]) == ("Client Platform Engineering", AGENT_OPTIONS)
    assert sorted(s["secret"] for s in team["secrets"]) == ["bhD5kiX2J+KBgZSk118qO61ZIdX/v8On",
                                                            "fTp52/twaxBU6gIi0J6PHp8o5Sm1k1kn"]
    assert await activities(fleet, "applied_spec_team") == [
        {"teams": [{"id": team_id, "name": "Client Platform Engineering"}]}]
    assert announced == [True]


async def test_apply_team_replaces_options_and_secrets_of_an_existing_team(cast: Cast) -> None:
    fleet = cast.fleet
    await apply(fleet, "teams", [{"name": "Team One", "secrets": [{"secret": "first"}]}])

    body = await apply(fleet, "teams", [{"name": "team one", "agent_options": AGENT_OPTIONS,
                                         "secrets": [{"secret": "second"}, "third"]}])

    assert body == {"team_ids_by_name": {"team one": cast.team_one}}
    team = await get_team(fleet, cast.team_one)
    assert (team["name"], team["agent_options"]) == ("Team One", AGENT_OPTIONS)
    assert sorted(s["secret"] for s in team["secrets"]) == ["second", "third"]
    # An empty list leaves the secrets as they are, as Fleet documents.
    await apply(fleet, "teams", [{"name": "Team One", "secrets": []}])
    assert sorted(s["secret"] for s in (await get_team(fleet, cast.team_one))["secrets"]) == ["second", "third"]
    assert await team_names(fleet) == ["Team One", "Team Two"]
    assert (await activities(fleet, "applied_spec_team"))[-1] == {"teams": [{"id": cast.team_one,
                                                                            "name": "Team One"}]}


async def test_a_dry_run_checks_everything_and_keeps_nothing(cast: Cast) -> None:
    fleet = cast.fleet
    spec = {"name": "Brand New", "agent_options": AGENT_OPTIONS, "secrets": [{"secret": "s1"}]}

    body = await apply(fleet, "teams", [spec], dry_run="true")

    assert body == {"team_ids_by_name": {}}
    assert "Brand New" not in await team_names(fleet)
    assert await activities(fleet, "applied_spec_team") == []
    bad = await fleet.client.post(f"{SPEC}/teams", params={"dry_run": "true"}, headers=fleet.as_admin,
                                  json={"specs": [{**spec, "agent_options": {"config": 5}}]})
    assert_error(bad, 422, "specs[0].agent_options.config")
    # A secret another team holds is caught by a dry run too.
    await apply(fleet, "teams", [{"name": "Team Two", "secrets": [{"secret": "taken"}]}])
    clash = await fleet.client.post(f"{SPEC}/teams", params={"dry_run": "true"}, headers=fleet.as_admin,
                                    json={"specs": [{"name": "Team One", "secrets": [{"secret": "taken"}]}]})
    assert_error(clash, 409)


async def test_documented_settings_that_are_not_stored_are_refused_by_name(fleet: Fleet) -> None:
    for key, value in (("mdm", {"macos_updates": {"minimum_version": "12.3.1"}}),
                       ("features", {"enable_host_users": False}), ("scripts", [])):
        response = await fleet.client.post(f"{SPEC}/teams", headers=fleet.as_admin,
                                           json={"specs": [{"name": "T", key: value}]})
        body = assert_error(response, 422, f"specs[0].{key}")
        assert "not supported" in body["errors"][0]["reason"]
    assert "T" not in await team_names(fleet)


async def test_unknown_keys_are_refused_unless_forced(fleet: Fleet) -> None:
    unknown = {"name": "T", "colour": "blue"}
    assert_error(await fleet.client.post(f"{SPEC}/teams", json={"specs": [unknown]}, headers=fleet.as_admin),
                 400, "specs[0].colour")
    odd_options = {"name": "T", "agent_options": {**AGENT_OPTIONS, "future_thing": {}}}
    assert_error(await fleet.client.post(f"{SPEC}/teams", json={"specs": [odd_options]}, headers=fleet.as_admin),
                 422, "specs[0].agent_options")
    assert "T" not in await team_names(fleet)

    ids = (await apply(fleet, "teams", [unknown], force="true"))["team_ids_by_name"]
    await apply(fleet, "teams", [odd_options], force="true")

    assert (await get_team(fleet, ids["T"]))["agent_options"] == {**AGENT_OPTIONS, "future_thing": {}}


async def test_team_specs_are_validated_and_applied_all_or_nothing(cast: Cast) -> None:
    fleet = cast.fleet
    h = fleet.as_admin

    async def refused(specs: Any, status: int, *names: str) -> None:
        response = await fleet.client.post(f"{SPEC}/teams", json={"specs": specs}, headers=h)
        assert_error(response, status, *names)

    assert_error(await fleet.client.post(f"{SPEC}/teams", json={}, headers=h), 422, "specs")
    await refused(["x"], 400, "specs[0]")
    await refused([{"name": 1}], 400, "specs[0].name")
    await refused([{"name": "T", "secrets": [{"secret": 1}]}], 400, "specs[0].secrets[0].secret")
    await refused([{"name": "  "}], 422, "specs[0].name")
    await refused([{"name": "T", "secrets": [{"secret": " "}]}], 422, "specs[0].secret")
    await refused([{"name": "T", "secrets": [{"secret": f"s{i}"} for i in range(51)]}], 422, "specs[0].secrets")
    await refused([{"name": "T"}, {"name": "t"}], 422, "specs[1].name")
    assert_error(await fleet.client.post(f"{SPEC}/teams", params={"dry_run": "maybe"}, json={"specs": []},
                                         headers=h), 400)
    # The second team is fine, the first is not: neither is touched.
    await refused([{"name": "Team Two", "agent_options": AGENT_OPTIONS},
                   {"name": "New Team", "agent_options": {"overrides": []}}], 422, "specs[1].agent_options.overrides")
    assert await team_names(fleet) == ["Team One", "Team Two"]
    assert (await get_team(fleet, cast.team_two))["agent_options"] != AGENT_OPTIONS
    assert await activities(fleet, "applied_spec_team") == []


async def test_a_team_admin_applies_specs_to_their_own_team_only(cast: Cast) -> None:
    fleet = cast.fleet
    h = cast["team_admin"].headers

    await apply(fleet, "teams", [{"name": "Team One", "agent_options": AGENT_OPTIONS}], headers=h)
    assert (await get_team(fleet, cast.team_one))["agent_options"] == AGENT_OPTIONS

    assert_error(await fleet.client.post(f"{SPEC}/teams", json={"specs": [{"name": "Team Two"}]}, headers=h), 403)
    assert_error(await fleet.client.post(f"{SPEC}/teams", json={"specs": [{"name": "Mine Now"}]}, headers=h), 403)
    assert "Mine Now" not in await team_names(fleet)


@pytest.mark.parametrize("role", ["maintainer", "observer", "team_maintainer", "team_observer"])
async def test_other_roles_cannot_apply_team_specs(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    response = await fleet.client.post(f"{SPEC}/teams", json={"specs": [{"name": "Team One",
                                                                        "agent_options": AGENT_OPTIONS}]},
                                       headers=cast[role].headers)
    assert_error(response, 403)
    assert (await get_team(fleet, cast.team_one))["agent_options"] != AGENT_OPTIONS


# ---- policies and authentication -----------------------------------------------------------------

async def _policies(fleet: Fleet, path: str = "global/policies") -> dict[str, dict[str, Any]]:
    response = await fleet.client.get(f"{V1}/{path}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["policies"]}


async def test_policy_specs_create_and_update_policies_by_name(fleet: Fleet) -> None:
    h = fleet.as_admin
    team = await fleet.add_team("Apples")
    response = await fleet.client.post(f"{SPEC}/policies", headers=h, json={"specs": [
        {"name": "new policy", "query": "SELECT * FROM osquery_info", "resolution": "steps", "critical": False},
        {"name": "FileVault", "query": "SELECT 1 FROM disk_encryption;", "description": "disk", "platform": "darwin",
         "critical": True, "team": "Apples"},
    ]})
    assert response.status_code == 200, response.text
    assert response.json() == {}

    assert set(await _policies(fleet)) == {"new policy"}
    filevault = (await _policies(fleet, f"teams/{team}/policies"))["FileVault"]
    assert (filevault["query"], filevault["platform"], filevault["critical"], filevault["team_id"]) == (
        "SELECT 1 FROM disk_encryption;", "darwin", True, team)

    # By name again: the query, texts and platform change; the team stays (Fleet ignores it).
    again = await fleet.client.post(f"{SPEC}/policies", headers=h, json={"specs": [
        {"name": "FileVault", "query": "SELECT 2;", "description": "d2", "resolution": "r2", "platform": "linux"}]})
    assert again.status_code == 200, again.text
    updated = (await _policies(fleet, f"teams/{team}/policies"))["FileVault"]
    assert (updated["id"], updated["query"], updated["description"], updated["resolution"], updated["platform"],
            updated["team_id"]) == (filevault["id"], "SELECT 2;", "d2", "r2", "linux", team)

    response = await fleet.client.get(f"{V1}/activities", headers=h)
    applied = [a for a in response.json()["activities"] if a["type"] == "applied_spec_policy"]
    assert len(applied) == 2
    assert {p["name"] for a in applied for p in a["details"]["policies"]} == {"new policy", "FileVault"}
    assert set(applied[0]["details"]["policies"][0]) == {"name", "query", "description", "resolution", "team",
                                                         "platform", "critical"}


async def test_policy_specs_are_all_or_nothing(fleet: Fleet) -> None:
    h = fleet.as_admin
    good = {"name": "good", "query": "SELECT 1;"}
    body = assert_error(await fleet.client.post(f"{SPEC}/policies", headers=h, json={"specs": [
        good, {"name": "", "query": ""}, {"name": "p", "query": "SELECT 1;", "platform": "beos"}]}),
        422, "specs[1].name", "specs[1].query", "specs[2].platform")
    assert body["message"]
    assert_error(await fleet.client.post(f"{SPEC}/policies", headers=h, json={"specs": [good, good]}),
                 422, "specs[1].name")
    assert_error(await fleet.client.post(f"{SPEC}/policies", headers=h, json={"specs": [
        good, {"name": "teamed", "query": "SELECT 1;", "team": "No Such Team"}]}), 404)
    assert await _policies(fleet) == {}
    assert_error(await fleet.client.post(f"{SPEC}/policies", json={"specs": [{"critical": "yes"}]}, headers=h),
                 400, "specs[0].critical")
    assert_error(await fleet.client.post(f"{SPEC}/policies", json={}, headers=h), 422, "specs")


async def test_team_writers_apply_policies_of_their_team_only(cast: Cast) -> None:
    fleet = cast.fleet
    async with fleet.kit.store.unit_of_work() as uow:
        team_one = await uow.teams.get(cast.team_one)
        team_two = await uow.teams.get(cast.team_two)
    assert team_one is not None and team_two is not None
    headers = cast["team_maintainer"].headers
    ok = await fleet.client.post(f"{SPEC}/policies", headers=headers, json={"specs": [
        {"name": "mine", "query": "SELECT 1;", "team": team_one.name}]})
    assert ok.status_code == 200, ok.text
    for spec in ({"name": "global", "query": "SELECT 1;"}, {"name": "theirs", "query": "SELECT 1;",
                                                             "team": team_two.name}):
        assert_error(await fleet.client.post(f"{SPEC}/policies", headers=headers, json={"specs": [spec]}), 403)
    assert set(await _policies(fleet, f"teams/{cast.team_one}/policies")) == {"mine"}


@pytest.mark.parametrize("role", ["observer", "team_observer"])
async def test_observers_may_not_apply_policies(cast: Cast, role: str) -> None:
    response = await cast.fleet.client.post(f"{SPEC}/policies", headers=cast[role].headers, json={"specs": [
        {"name": "p", "query": "SELECT 1;"}]})
    assert_error(response, 403)


async def test_every_spec_endpoint_needs_a_token(fleet: Fleet) -> None:
    calls = [("GET", "queries"), ("GET", "queries/x"), ("POST", "queries"), ("GET", "labels"),
             ("GET", "labels/x"), ("POST", "labels"), ("POST", "teams"), ("POST", "policies")]
    for method, path in calls:
        response = await fleet.client.request(method, f"{SPEC}/{path}",
                                              json={"specs": []} if method == "POST" else None)
        assert_error(response, 401)
