"""Errors reported by Fleet Desktop (POST /device/{token}/debug/errors), kept for GET /debug/errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ErrorReportStore(Protocol):
    async def add(self, report: Mapping[str, Any]) -> None: ...

    async def list(self) -> list[Mapping[str, Any]]: ...

    async def flush(self) -> None: ...
