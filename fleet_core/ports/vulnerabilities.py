"""What the vulnerability job stores: each software row's CPE, the CVEs found on it (software_cve)
and what the feeds say about them (cve_meta), plus the job's own state."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

from fleet_core.model.vulnerabilities import CVEMeta
from fleet_core.model.vulnerability_job import SoftwareCVE, StoredSoftware, VulnerabilityJobState


class VulnerabilityRepository(Protocol):
    async def software_version(self) -> str:
        """Identifies the set of software rows: it changes when a row is added or removed (rows
        are never edited but for generated_cpe, which only the job writes)."""
        ...

    async def software_batch(self, after_id: int, limit: int) -> builtins.list[StoredSoftware]:
        """Up to ``limit`` software rows with id > ``after_id``, by id ascending."""
        ...

    async def set_generated_cpes(self, cpes: Mapping[int, str]) -> None:
        """Set generated_cpe of each software id named (ids that no longer exist are ignored)."""
        ...

    async def replace_cves(self, software_ids: Sequence[int], found: Sequence[SoftwareCVE],
                           at: dt.datetime) -> int:
        """Make the CVEs of the software ``software_ids`` exactly ``found`` (each of whose
        software_id is in ``software_ids``): rows no longer found are deleted, new ones are
        created at ``at``, a changed resolved_in_version is updated, and unchanged rows keep their
        created_at. Rows of software that no longer exists are skipped. Returns how many rows
        were created, updated or deleted (0: nothing written)."""
        ...

    async def upsert_cve_meta(self, metas: Sequence[CVEMeta]) -> None:
        """Store what the feeds say about each CVE (replacing what changed)."""
        ...

    async def job_state(self) -> VulnerabilityJobState:
        """What the last complete run saw (all None before the first)."""
        ...

    async def save_job_state(self, state: VulnerabilityJobState) -> None:
        ...
