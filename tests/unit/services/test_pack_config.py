"""The rule that turns the pack catalogue into one host's osquery packs (fleet_core.services.pack_config)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.packs import Pack, PackCatalogue, PackTargets, ScheduledQuery
from fleet_core.model.queries import LOGGING_TYPES, SavedQuery
from fleet_core.services.pack_config import build_packs, compile_packs, saved_entry, scheduled_entry

AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
TEAMS = (1, 2, 3)
OPTIONAL = ("snapshot", "removed", "shard", "denylist")
GLOBAL_PACK = Pack(id=1, name="Global", type="global", created_at=AT, updated_at=AT)
TEAM_PACKS = tuple(Pack(id=1 + t, name=f"team-{t}", type=f"team-{t}", team_id=t, created_at=AT, updated_at=AT)
                   for t in TEAMS)

ids = st.frozensets(st.integers(1, 6), max_size=3)
maybe_bool = st.none() | st.booleans()
teams = st.none() | st.sampled_from(TEAMS)


def _query(query_id: int, team_id: int | None) -> str:
    # The SQL tells which query (and so which team) an entry came from.
    return f"SELECT {query_id} -- team {team_id}"


@st.composite
def user_packs(draw: st.DrawFn) -> tuple[Pack, ...]:
    count = draw(st.integers(0, 4))
    return tuple(Pack(id=10 + i, name=f"pack {i}", disabled=draw(st.booleans()), created_at=AT, updated_at=AT,
                      targets=PackTargets(host_ids=tuple(sorted(draw(ids))), label_ids=tuple(sorted(draw(ids))),
                                          team_ids=tuple(sorted(draw(st.frozensets(st.sampled_from(TEAMS)))))))
                 for i in range(count))


@st.composite
def catalogues(draw: st.DrawFn) -> PackCatalogue:
    packs = (GLOBAL_PACK, *TEAM_PACKS, *draw(user_packs()))
    scheduled = []
    for i in range(draw(st.integers(0, 12))):
        pack = draw(st.sampled_from(packs))
        query_team = draw(teams)
        scheduled.append(ScheduledQuery(
            id=100 + i, pack_id=pack.id, name=f"entry {draw(st.integers(0, 5))}", query_id=100 + i,
            query_name="q", query=_query(100 + i, query_team), interval=draw(st.integers(1, 10_000)),
            created_at=AT, updated_at=AT, snapshot=draw(maybe_bool), removed=draw(maybe_bool),
            platform=draw(st.none() | st.sampled_from(["", "darwin", "linux,windows"])),
            version=draw(st.none() | st.just("5.0.1")), shard=draw(st.none() | st.integers(0, 100)),
            denylist=draw(maybe_bool), query_team_id=query_team))
    saved = []
    for i in range(draw(st.integers(0, 8))):
        team_id = draw(teams)
        saved.append(SavedQuery(id=500 + i, name=f"saved {draw(st.integers(0, 3))}", query=_query(500 + i, team_id),
                                created_at=AT, updated_at=AT, team_id=team_id, interval=draw(st.integers(0, 3)),
                                logging=draw(st.sampled_from(LOGGING_TYPES))))
    return PackCatalogue(packs=packs, scheduled=tuple(scheduled), saved=tuple(saved))


hosts = st.fixed_dictionaries({"host_id": st.integers(1, 6), "team_id": teams, "label_ids": ids})


def _targets(pack: Pack, host: dict[str, Any]) -> bool:
    t = pack.targets
    return (host["host_id"] in t.host_ids or host["team_id"] in t.team_ids
            or bool(set(t.label_ids) & host["label_ids"]))


@given(catalogues(), hosts)
def test_a_user_pack_appears_iff_it_is_enabled_targets_the_host_and_has_queries(
        catalogue: PackCatalogue, host: dict[str, Any]) -> None:
    packs = build_packs(catalogue, **host)
    for pack in catalogue.packs:
        if pack.type is not None:
            continue
        has_queries = any(e.pack_id == pack.id and e.query_team_id is None for e in catalogue.scheduled)
        assert (pack.name in packs) == (not pack.disabled and _targets(pack, host) and has_queries)


@given(catalogues(), hosts)
def test_no_pack_is_empty_and_only_the_hosts_team_pack_is_sent(catalogue: PackCatalogue,
                                                                host: dict[str, Any]) -> None:
    packs = build_packs(catalogue, **host)
    assert all(pack["queries"] for pack in packs.values())
    team_packs = {name for name in packs if name.startswith("team-")}
    assert team_packs <= {f"team-{host['team_id']}"}


@given(catalogues(), hosts)
def test_global_never_holds_team_queries_and_a_team_pack_only_its_own(catalogue: PackCatalogue,
                                                                      host: dict[str, Any]) -> None:
    packs = build_packs(catalogue, **host)
    for name, pack in packs.items():
        allowed = {"-- team None"} | ({f"-- team {host['team_id']}"} if name.startswith("team-") else set())
        for entry in pack["queries"].values():
            assert any(entry["query"].endswith(tag) for tag in allowed), (name, entry)


@given(catalogues(), hosts)
def test_every_scheduled_entry_carries_exactly_its_non_null_optional_keys(catalogue: PackCatalogue,
                                                                         host: dict[str, Any]) -> None:
    by_query = {e.query: e for e in catalogue.scheduled}
    for pack in build_packs(catalogue, **host).values():
        for entry in pack["queries"].values():
            source = by_query.get(entry["query"])
            if source is None:
                continue  # a saved query run on its own interval
            assert set(entry) == {"query", "interval", "platform", "version"} | {
                key for key in OPTIONAL if getattr(source, key) is not None}
            assert entry == scheduled_entry(source)


@given(catalogues())
def test_saved_queries_with_an_interval_run_in_their_scope_unless_that_name_is_scheduled(
        catalogue: PackCatalogue) -> None:
    compiled = compile_packs(catalogue)
    for saved in catalogue.saved:
        scope = compiled.global_queries if saved.team_id is None else compiled.team_queries.get(saved.team_id, {})
        sent = [q for q in scope.values() if q["query"] == saved.query]
        if saved.interval <= 0:
            assert sent == []
        elif sent:
            assert sent == [saved_entry(saved)]
        else:
            # Its name was taken by a scheduled entry or an older saved query.
            assert saved.name in scope


def test_a_saved_querys_logging_type_decides_snapshot_or_removed() -> None:
    def entry(logging: str) -> dict[str, Any]:
        return saved_entry(SavedQuery(id=1, name="n", query="SELECT 1", created_at=AT, updated_at=AT, interval=60,
                                      platform="darwin", min_osquery_version="5.1", logging=logging))

    base = {"query": "SELECT 1", "interval": 60, "platform": "darwin", "version": "5.1"}
    assert entry("snapshot") == {**base, "snapshot": True}
    assert entry("differential") == {**base, "removed": True}
    assert entry("differential_ignore_removals") == {**base, "removed": False}


def test_a_host_gets_global_its_team_and_its_user_packs_by_name() -> None:
    by_label = Pack(id=10, name="by label", created_at=AT, updated_at=AT, targets=PackTargets(label_ids=(7,)))
    entry = ScheduledQuery(id=1, pack_id=GLOBAL_PACK.id, name="e", query_id=1, query_name="e", query="SELECT 1",
                           interval=60, created_at=AT, updated_at=AT, snapshot=True)
    catalogue = PackCatalogue(packs=(GLOBAL_PACK, *TEAM_PACKS, by_label), scheduled=(
        entry,
        attrs.evolve(entry, id=2, pack_id=TEAM_PACKS[1].id, query_team_id=2),
        attrs.evolve(entry, id=3, pack_id=by_label.id, removed=False, snapshot=None),
    ))
    snapshot = {"query": "SELECT 1", "interval": 60, "platform": "", "version": "", "snapshot": True}

    assert build_packs(catalogue, host_id=1, team_id=2, label_ids=frozenset({7})) == {
        "by label": {"queries": {"e": {"query": "SELECT 1", "interval": 60, "platform": "", "version": "",
                                       "removed": False}}},
        "Global": {"queries": {"e": snapshot}},
        "team-2": {"queries": {"e": snapshot}},
    }
    assert build_packs(catalogue, host_id=1, team_id=None, label_ids=frozenset()) == {
        "Global": {"queries": {"e": snapshot}}}
