"""ORDER BY, LIMIT and text search built from ListOptions, mirroring fleet_core.rules.paging."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, LiteralString

from fleet_core.errors import InvalidArgument
from fleet_core.rules.paging import Direction, ListOptions

ORDER_BY_SLOT: Final = "{order_by}"


def order_by(options: ListOptions, columns: Mapping[str, LiteralString], *,
             id_column: LiteralString) -> LiteralString:
    """``ORDER BY <key> <dir> NULLS LAST, <id> ASC``, the order paginate() produces.

    ``columns`` maps each allowed order key to its SQL expression; text columns are written
    ``lower(col) COLLATE "C"`` so that they sort like Python's ``str.lower()`` comparison
    (code point order), whatever the database's locale.
    """
    if options.order_key is None:
        return "ORDER BY " + id_column + " ASC"
    expression = columns.get(options.order_key)
    if expression is None:
        raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(columns))}"))
    direction: LiteralString = "DESC" if options.order_direction is Direction.DESC else "ASC"
    return "ORDER BY " + expression + " " + direction + " NULLS LAST, " + id_column + " ASC"


def ordered(statement: LiteralString, options: ListOptions, columns: Mapping[str, LiteralString], *,
            id_column: LiteralString) -> LiteralString:
    """``statement`` with its ``{order_by}`` slot filled in by order_by().

    A page statement is written out whole with that one slot, since the sort key is the only
    part a parameter cannot carry; the slot takes an expression from ``columns`` and nothing else.
    """
    assert ORDER_BY_SLOT in statement, "a page statement needs an {order_by} slot"
    return statement.replace(ORDER_BY_SLOT, order_by(options, columns, id_column=id_column))


def search_pattern(query: str) -> str | None:
    """A LIKE pattern matching ``query`` as a literal substring; None when there is no query.

    Compare it against ``lower(col)`` and lower the pattern in SQL too, so both sides use the
    same case folding.
    """
    if not query:
        return None
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_params(options: ListOptions) -> dict[str, Any]:
    return {"limit": options.per_page, "offset": options.offset}
