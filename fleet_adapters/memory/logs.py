"""A log destination that keeps every batch in memory, for tests (fleet_core.ports.LogDestination)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from fleet_core.errors import Unavailable


@attrs.frozen
class LogBatch:
    log_type: str
    records: tuple[bytes, ...]


@attrs.define
class RecordingLogDestination:
    """Keeps each accepted batch; set ``failing`` to make it refuse batches like a full disk would."""

    batches: list[LogBatch] = attrs.field(factory=list)
    failing: bool = False

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        if log_type not in ("result", "status"):
            raise ValueError(f"unknown log type {log_type!r}; expected 'result' or 'status'")
        if self.failing:
            raise Unavailable(f"the {log_type} log destination did not accept the batch")
        self.batches.append(LogBatch(log_type, tuple(bytes(record) for record in records)))

    def records(self, log_type: str) -> list[bytes]:
        """Every record of this type, in the order accepted."""
        return [record for batch in self.batches if batch.log_type == log_type for record in batch.records]
