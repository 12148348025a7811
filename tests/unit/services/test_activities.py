"""The activity feed (fleet_core.services.activities): every role reads it, newest or oldest first."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.model.queries import QueryFields
from fleet_core.rules.paging import ListOptions
from tests.unit.services.support import MakeUser, create_team

pytestmark = pytest.mark.anyio


async def test_every_role_reads_the_whole_feed(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    member = await make_user(teams=[(apples, "observer")])
    everything = await kit.services.activities.list(admin, ListOptions())
    assert await kit.services.activities.list(member, ListOptions()) == everything
    assert {"created_user", "created_team"} <= {a.type for a in everything}


async def test_an_activity_names_its_actor_as_they_were(kit: InMemoryKit, admin: Viewer,
                                                        make_user: MakeUser) -> None:
    maintainer = await make_user(global_role="maintainer")
    await kit.services.queries.create(maintainer, QueryFields(name="q", query="SELECT 1;"))
    latest = (await kit.services.activities.list(admin, ListOptions(order_key="id", order_direction="desc")))[0]
    assert (latest.type, latest.actor_id, latest.actor_full_name, latest.actor_email) == (
        "created_saved_query", maintainer.user.id, maintainer.user.name, maintainer.user.email)


async def test_the_feed_is_ordered_and_paged(kit: InMemoryKit, admin: Viewer, clock: MovableClock) -> None:
    for name in ("first", "second", "third"):
        clock.advance(dt.timedelta(seconds=1))
        await kit.services.queries.create(admin, QueryFields(name=name, query="SELECT 1;"))
    newest_first = ListOptions(order_key="created_at", order_direction="desc", per_page=2)
    page = await kit.services.activities.list(admin, newest_first)
    assert [a.details["query_name"] for a in page] == ["third", "second"]  # type: ignore[index]
    ids = [a.id for a in await kit.services.activities.list(admin, ListOptions(order_key="id"))]
    assert ids == sorted(ids) and len(ids) == 4  # setup's created_user and the three queries
