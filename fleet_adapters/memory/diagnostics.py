"""In-memory DatabaseDiagnostics: there are no sessions, locks, migrations or connections in
memory, so those reports are empty (dbstats an empty pool); table-sizes counts the rows of each
in-memory table."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import NotFound
from fleet_core.ports.diagnostics import DATABASE_REPORTS

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore


@attrs.frozen
class InMemoryDatabaseDiagnostics:
    store: InMemoryStore

    async def report(self, key: str) -> builtins.list[dict[str, Any]]:
        if key not in DATABASE_REPORTS:
            raise NotFound(f"unknown database diagnostic {key!r}")
        if key == "dbstats":
            return [{"pool_size": 0}]
        if key != "table-sizes":
            return []
        state = self.store.state
        rows = [{"table_name": field.name, "estimated_rows": len(value)}
                for field in attrs.fields(type(state))
                if isinstance(value := getattr(state, field.name), dict)]
        return sorted(rows, key=lambda r: (-r["estimated_rows"], r["table_name"]))
