"""Teams: the unit that scopes hosts, secrets and team roles."""

from __future__ import annotations

import datetime as dt

import attrs


@attrs.frozen
class Team:
    id: int
    name: str
    created_at: dt.datetime
    description: str = ""
