"""The marker for "not given" in PATCH-style inputs, where None is a real value ("clear it")."""

from __future__ import annotations

from typing import Any


class _Unset:
    def __repr__(self) -> str:
        return "UNSET_FIELD"


UNSET_FIELD: Any = _Unset()
