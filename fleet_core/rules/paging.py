"""List options shared by every list endpoint: paging, ordering and text search."""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

import attrs

from fleet_core.errors import InvalidArgument

T = TypeVar("T")

# Fleet lists everything when no per_page is given.
DEFAULT_PER_PAGE = 1_000_000
MAX_PER_PAGE = 1_000_000
# Offsets and ids travel to the database as 64-bit integers; a larger one would be refused
# there ("bigint out of range") instead of here, with the field named.
MAX_OFFSET = 2**63 - 1
MAX_ID = 2**63 - 1


class Direction(enum.StrEnum):
    ASC = "asc"
    DESC = "desc"


@attrs.frozen
class ListOptions:
    page: int = 0
    per_page: int = DEFAULT_PER_PAGE
    order_key: str | None = None
    order_direction: Direction = attrs.field(default=Direction.ASC, converter=Direction)
    query: str = ""

    @property
    def offset(self) -> int:
        return self.page * self.per_page


def list_options(
    *,
    page: int | None = None,
    per_page: int | None = None,
    order_key: str | None = None,
    order_direction: str | None = None,
    query: str | None = None,
    allowed_keys: Collection[str],
    default_key: str | None = None,
) -> ListOptions:
    """Validate raw list parameters against the keys a list may be ordered by."""
    problems: list[tuple[str, str]] = []
    if page is not None and page < 0:
        problems.append(("page", "must be zero or greater"))
    if per_page is not None and not 0 < per_page <= MAX_PER_PAGE:
        problems.append(("per_page", f"must be between 1 and {MAX_PER_PAGE}"))
    if order_key is not None and order_key not in allowed_keys:
        problems.append(("order_key", f"must be one of {', '.join(sorted(allowed_keys))}"))
    direction = Direction.ASC
    if order_direction is not None:
        if order_direction not in ("asc", "desc"):
            problems.append(("order_direction", "must be asc or desc"))
        elif order_key is None:
            problems.append(("order_direction", "requires order_key"))
        else:
            direction = Direction(order_direction)
    if not problems and (page or 0) * (per_page or DEFAULT_PER_PAGE) > MAX_OFFSET:
        problems.append(("page", "is too large"))
    if problems:
        raise InvalidArgument(*problems)
    return ListOptions(
        page=page or 0,
        per_page=per_page or DEFAULT_PER_PAGE,
        order_key=order_key or default_key,
        order_direction=direction,
        query=(query or "").strip(),
    )


def require_ids_in_range(**ids: int | None) -> None:
    """Refuse, naming each field, ids the database cannot even compare (None: not given).

    Smaller values that match no row are left to the caller's usual "not found" (or, for 0,
    Fleet's "no team").
    """
    problems = [(name, f"must be between {-MAX_ID - 1} and {MAX_ID}") for name, value in ids.items()
                if value is not None and not -MAX_ID - 1 <= value <= MAX_ID]
    if problems:
        raise InvalidArgument(*problems)


def paginate(
    items: Iterable[T],
    options: ListOptions,
    sort_value: Callable[[T, str], Any],
    *,
    tie_breaker: Callable[[T], Any],
    matches: Callable[[T, str], bool] | None = None,
) -> list[T]:
    """Filter, order and slice in memory with the same semantics the SQL adapters implement.

    Ties (and no order key) fall back to ``tie_breaker`` ascending, so pages never overlap.
    """
    selected: Sequence[T] = list(items)
    if options.query and matches is not None:
        selected = [item for item in selected if matches(item, options.query.lower())]
    ordered = sorted(selected, key=tie_breaker)
    if options.order_key is not None:
        key = options.order_key
        present = [item for item in ordered if sort_value(item, key) is not None]
        missing = [item for item in ordered if sort_value(item, key) is None]
        descending = options.order_direction is Direction.DESC
        # Ties keep the ascending tie-breaker and NULLs go last either way, which is what
        # the SQL adapters' "ORDER BY key <dir> NULLS LAST, id ASC" does.
        present = _sorted_keep_ties(present, lambda item: _sortable(sort_value(item, key)), descending)
        ordered = present + missing
    return list(ordered[options.offset : options.offset + options.per_page])


def _sortable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sorted_keep_ties(items: list[T], key: Callable[[T], Any], descending: bool) -> list[T]:
    if not descending:
        return sorted(items, key=key)
    # sorted() is stable, so reversing twice would flip ties; group by key instead.
    groups: dict[Any, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return [item for k in sorted(groups, reverse=True) for item in groups[k]]
