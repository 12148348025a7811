"""The list parameters every list endpoint shares (page, per_page, order_key, order_direction, query)."""

from __future__ import annotations

from collections.abc import Collection

from fleet_core.rules.paging import ListOptions, list_options


def options_from_query(
    *,
    page: int | None,
    per_page: int | None,
    order_key: str | None,
    order_direction: str | None,
    query: str | None,
    allowed_keys: Collection[str],
) -> ListOptions:
    return list_options(page=page, per_page=per_page, order_key=order_key or None,
                        order_direction=order_direction or None, query=query, allowed_keys=allowed_keys)
