"""How a simulated host answers distributed queries: discovery, detail, label, policy and live queries.

The rules follow osquery-perf (§4.1): static template rows for detail queries, simple SQL rules plus
seeded probabilities for labels, policies and live queries, and `[{"foo":"bar"}]` for anything else.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from fleet_osquery.sim.templates import (
    DETAIL_ANSWERS,
    KNOWN_PLATFORM_TABLES,
    TABLE_ROWS,
    HostIdentity,
    OsTemplate,
    Rows,
    Software,
    is_software_query,
    software_row,
    tables_in,
)

DETAIL_PREFIX = "fleet_detail_query_"
LABEL_PREFIX = "fleet_label_query_"
POLICY_PREFIX = "fleet_policy_query_"
LIVE_PREFIX = "fleet_distributed_query_"
UNKNOWN_ROWS: Rows = [{"foo": "bar"}]
_ONE_ROW: Rows = [{"1": "1"}]

_SELECT_1 = re.compile(r"^\s*select\s+1\s*;?\s*$", re.IGNORECASE)
_SELECT_0 = re.compile(r"\bselect\s+0\b", re.IGNORECASE)
_REGISTRY_NAME = re.compile(r"\bname\s*=\s*['\"]([^'\"]+)['\"]", re.IGNORECASE)
_REGISTRY_IN = re.compile(r"\bname\s+in\s*\(([^)]*)\)", re.IGNORECASE)
_QUOTED = re.compile(r"['\"]([^'\"]*)['\"]")
# `column = 'value'` / `column LIKE 'pattern'` on the columns that identify an OS (built-in labels use these).
_COND = re.compile(
    r"\b(platform|platform_like|name|build_platform|build_distro|codename|major|arch)\s*(=|==|!=|<>|\s+like\s+|\s+not\s+like\s+)\s*['\"]([^'\"]*)['\"]",
    re.IGNORECASE,
)
_COND_IN = re.compile(r"\b(platform|platform_like|build_platform)\s+(not\s+)?in\s*\(([^)]*)\)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AnswerRules:
    """The knobs of the simple rules (osquery-perf's flags of the same names)."""

    policy_pass_prob: float = 1.0
    label_match_prob: float = 0.5
    live_query_fail_prob: float = 0.0
    live_query_no_results_prob: float = 0.2
    software_query_fail_prob: float = 0.0


@dataclass(slots=True)
class Answer:
    rows: Rows | msgspec.Raw
    status: int = 0
    message: str = ""
    wall_time_ms: int = 0


def _stable_fraction(*parts: object) -> float:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _like(value: str, pattern: str) -> bool:
    regex = "^" + ".*".join(re.escape(p).replace("_", ".") for p in pattern.split("%")) + "$"
    return re.match(regex, value, re.IGNORECASE | re.DOTALL) is not None


class HostAnswerer:
    """Answers for one host. Static detail answers are encoded once and reused (msgspec.Raw)."""

    def __init__(
        self,
        template: OsTemplate,
        identity: HostIdentity,
        rules: AnswerRules,
        seed: int,
        *,
        rng: random.Random,
        started_at: float | None = None,
        scheduled_stats: Callable[[], Rows] | None = None,
    ) -> None:
        self.template = template
        self.identity = identity
        self.rules = rules
        self.seed = seed
        self.rng = rng
        self.tables = template.tables(identity)
        self.started_at = time.time() if started_at is None else started_at
        self._scheduled_stats = scheduled_stats
        self._encoded: dict[str, msgspec.Raw] = {}
        # Set by report_software: the packages the software detail queries answer instead of the template's.
        self.reported_software: tuple[Software, ...] | None = None
        facts = {**template.os_version, **template.osquery_info_row(identity)}
        self._facts = {k: v.lower() for k, v in facts.items()}

    def report_software(self, software: Sequence[Software]) -> None:
        """From now on the software detail query of this host's family answers exactly these packages
        (a test pins what a host has installed, e.g. a vulnerable openssl)."""
        self.reported_software = tuple(software)
        for name in [n for n in self._encoded if is_software_query(n)]:
            del self._encoded[name]

    # discovery ------------------------------------------------------------------------------------
    def has_table(self, table: str) -> bool:
        """Platform-specific tables per the template; tables we know nothing about are assumed present."""
        return table in self.tables or table not in KNOWN_PLATFORM_TABLES

    def discovery_passes(self, sql: str) -> bool:
        """Whether a discovery query returns at least one row on this host (osquery runs the query only then)."""
        if _SELECT_1.match(sql):
            return True
        if _SELECT_0.search(sql):
            return False
        if "osquery_registry" in sql.lower():
            names = [m.group(1).lower() for m in _REGISTRY_NAME.finditer(sql)]
            for m in _REGISTRY_IN.finditer(sql):
                names.extend(q.lower() for q in _QUOTED.findall(m.group(1)))
            return bool(names) and any(self.has_table(n) for n in names)
        if any(not self.has_table(t) for t in tables_in(sql)):
            return False
        matched = self._os_conditions(sql)
        return True if matched is None else matched

    def _os_conditions(self, sql: str) -> bool | None:
        """Evaluate `platform = 'darwin'`-style conditions (OR-ed); None when the SQL has none."""
        results: list[bool] = []
        for col, op, value in _COND.findall(sql):
            actual = self._facts.get(col.lower())
            if actual is None:
                continue
            op = " ".join(op.lower().split())
            if op in ("=", "=="):
                results.append(actual == value.lower())
            elif op in ("!=", "<>"):
                results.append(actual != value.lower())
            elif op == "like":
                results.append(_like(actual, value))
            else:
                results.append(not _like(actual, value))
        for col, negated, values in _COND_IN.findall(sql):
            actual = self._facts.get(col.lower(), "")
            inside = actual in (v.lower() for v in _QUOTED.findall(values))
            results.append(not inside if negated else inside)
        return any(results) if results else None

    # queries -------------------------------------------------------------------------------------
    def answer(self, name: str, sql: str) -> Answer:
        if name.startswith(DETAIL_PREFIX):
            return self._detail(name[len(DETAIL_PREFIX) :], sql)
        if name.startswith(LABEL_PREFIX):
            return self._membership(sql, self.rules.label_match_prob, "label", name[len(LABEL_PREFIX) :])
        if name.startswith(POLICY_PREFIX):
            return self._membership(sql, self.rules.policy_pass_prob, "policy", name[len(POLICY_PREFIX) :])
        if name.startswith(LIVE_PREFIX):
            return self._live(sql)
        if name == "fleet_no_policies_wildcard":
            return Answer(_ONE_ROW)
        return Answer(UNKNOWN_ROWS)

    def _missing_table(self, sql: str) -> str | None:
        return next((t for t in tables_in(sql) if not self.has_table(t)), None)

    def _detail(self, detail: str, sql: str) -> Answer:
        if detail == "uptime":
            secs = max(0, int(time.time() - self.started_at)) + 3600 + self.identity.index % 86400
            return Answer(
                [
                    {
                        "days": str(secs // 86400),
                        "hours": str(secs // 3600 % 24),
                        "minutes": str(secs // 60 % 60),
                        "seconds": str(secs % 60),
                        "total_seconds": str(secs),
                    }
                ]
            )
        if detail == "scheduled_query_stats":
            return Answer(self._scheduled_stats() if self._scheduled_stats else [])
        entry = DETAIL_ANSWERS.get(detail)
        if entry is None:
            missing = self._missing_table(sql)
            if missing:
                return Answer([], 1, f"no such table: {missing}")
            return Answer(UNKNOWN_ROWS)
        families, build = entry
        if families is not None and self.template.family not in families:
            missing = self._missing_table(sql) or detail
            return Answer([], 1, f"no such table: {missing}")
        if (
            is_software_query(detail)
            and self.rules.software_query_fail_prob > 0
            and self.rng.random() < self.rules.software_query_fail_prob
        ):
            return Answer([], 1, "simulated software query failure", wall_time_ms=250)
        raw = self._encoded.get(detail)
        if raw is None:
            if is_software_query(detail) and self.reported_software is not None:
                rows = [software_row(sw) for sw in self.reported_software]
            else:
                rows = build(self.template, self.identity)
            raw = msgspec.Raw(msgspec.json.encode(rows))
            self._encoded[detail] = raw
        return Answer(raw, wall_time_ms=40 if is_software_query(detail) else 1)

    def _membership(self, sql: str, prob: float, kind: str, ident: str) -> Answer:
        """Labels and policies: a row means member / pass, no rows means not / fail (§0)."""
        if _SELECT_1.match(sql):
            return Answer(_ONE_ROW)
        if _SELECT_0.search(sql):
            return Answer([])
        missing = self._missing_table(sql)
        if missing:
            return Answer([], 1, f"no such table: {missing}")
        matched = self._os_conditions(sql)
        if matched is None:
            # Stable per host and query: a policy does not flap between check-ins.
            matched = _stable_fraction(self.seed, self.identity.index, kind, ident) < prob
        return Answer(list(_ONE_ROW) if matched else [])

    def _live(self, sql: str) -> Answer:
        roll = self.rng.random()
        if roll < self.rules.live_query_fail_prob:
            return Answer([], 1, "simulated live query failure")
        if roll < self.rules.live_query_fail_prob + self.rules.live_query_no_results_prob:
            return Answer([])
        for table in tables_in(sql):
            build = TABLE_ROWS.get(table)
            if build is not None:
                return Answer(build(self.template, self.identity), wall_time_ms=2)
        return Answer(
            [{"hostname": self.identity.hostname, "uuid": self.identity.uuid, "result": "ok"}], wall_time_ms=2
        )

    def run_batch(self, queries: Mapping[str, str], discovery: Mapping[str, str]) -> dict[str, Answer]:
        """Run a distributed/read batch as osquery does: sorted by name, gated by discovery."""
        out: dict[str, Answer] = {}
        for name in sorted(queries):
            sql = queries[name]
            if not isinstance(sql, str) or not sql:
                continue
            gate = discovery.get(name)
            if isinstance(gate, str) and gate and not self.discovery_passes(gate):
                continue
            out[name] = self.answer(name, sql)
        return out
