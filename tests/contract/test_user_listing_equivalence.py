"""The in-memory store and Postgres list users identically: same filter, order and pages.

Keeps the fake honest about the subtle parts (case folding, NULLS LAST, ties by id, LIKE
wildcards in the search text) that hand-written cases easily miss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryStore
from fleet_core.model.users import NewUser, Role, TeamRole
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.ordering import USER_ORDER_KEYS
from fleet_core.rules.paging import Direction, ListOptions

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

TEAM_IDS = (1, 2)
# A tiny alphabet makes ties, case-only differences and LIKE wildcards common. ASCII only:
# Postgres lower() outside the C locale and Python's casefold() disagree on some letters.
TEXT = "aAbB _%\\"

new_users = st.lists(
    st.fixed_dictionaries({
        "name": st.text(TEXT, max_size=3),
        "local": st.text("aAbZ_%", max_size=3),
        "global_role": st.sampled_from([None, *Role]),
        "api_only": st.booleans(),
        "sso_enabled": st.booleans(),
        "position": st.text("xX ", max_size=2),
        "teams": st.lists(st.sampled_from(TEAM_IDS), unique=True, max_size=2),
    }),
    max_size=8,
)

# Populating both stores is the slow part, so each example then compares many listings: every
# order key in both directions, for each generated search text and page.
pages = st.tuples(st.integers(0, 2), st.sampled_from([1, 2, 3, 1000]))
queries = st.lists(st.text(TEXT + "@", max_size=2), min_size=1, max_size=3)

team_filters = st.fixed_dictionaries({
    "team_id": st.one_of(st.none(), st.sampled_from(TEAM_IDS)),
    "team_ids": st.one_of(st.none(), st.frozensets(st.sampled_from((*TEAM_IDS, 3)))),
})


def to_new_user(index: int, spec: dict[str, Any]) -> NewUser:
    return NewUser(
        name=spec["name"],
        # The index keeps emails unique whatever case the local part is in.
        email=f"{spec['local']}{index}@Example.com",
        password_hash="h",
        global_role=spec["global_role"],
        api_only=spec["api_only"],
        sso_enabled=spec["sso_enabled"],
        position=spec["position"],
        teams=tuple(TeamRole(team_id, Role.OBSERVER) for team_id in spec["teams"]),
    )


async def populate(uow_factory: UnitOfWorkFactory, users: list[NewUser], at: Any) -> None:
    async with uow_factory() as uow:
        for team_id in TEAM_IDS:
            await uow.teams.add(name=f"team {team_id}", description="", at=at)
        await uow.commit()
    # One unit of work per user, so that created_at differs between users in both stores.
    for user in users:
        async with uow_factory() as uow:
            await uow.users.add(user)
            await uow.commit()


async def listed(uow_factory: UnitOfWorkFactory, options: ListOptions, filters: dict[str, Any]) -> list[tuple]:
    async with uow_factory() as uow:
        return [(u.id, u.email, u.teams) for u in await uow.users.list(options, **filters)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=new_users, page=pages, queries=queries, filters=team_filters)
async def test_memory_and_postgres_list_the_same_users_in_the_same_order(
    pg_uow_factory: Callable[[], Any], pg_dsn: str, at: Any,
    specs: list[dict[str, Any]], page: tuple[int, int], queries: list[str], filters: dict[str, Any],
) -> None:
    # Examples share the test's database; start each one from empty tables and sequences.
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute("TRUNCATE users, teams RESTART IDENTITY CASCADE")
    memory = InMemoryStore().unit_of_work
    users = [to_new_user(i, spec) for i, spec in enumerate(specs)]
    await populate(memory, users, at)
    await populate(pg_uow_factory, users, at)

    for query in ["", *queries]:
        for key in [None, *sorted(USER_ORDER_KEYS)]:
            for direction in Direction:
                options = ListOptions(page=page[0], per_page=page[1], order_key=key,
                                      order_direction=direction, query=query)
                for applied in ({}, filters):
                    expected = await listed(memory, options, applied)
                    assert await listed(pg_uow_factory, options, applied) == expected, (options, applied)
