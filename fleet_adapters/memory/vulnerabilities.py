"""In-memory VulnerabilityRepository, the twin of postgres/vulnerabilities.py."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from fleet_adapters.memory.software import StoredCVE
from fleet_core.model.vulnerabilities import CVEMeta, SoftwareToMatch
from fleet_core.model.vulnerability_job import SoftwareCVE, StoredSoftware, VulnerabilityJobState

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State


@attrs.define
class InMemoryVulnerabilityRepository:
    state: _State

    async def software_version(self) -> str:
        ids = self.state.host_tables.software_by_id
        return f"{len(ids)}:{max(ids, default=0)}"

    async def software_batch(self, after_id: int, limit: int) -> builtins.list[StoredSoftware]:
        rows = sorted((s for s in self.state.host_tables.software_by_id.values() if s.id > after_id),
                      key=lambda s: s.id)[:limit]
        return [StoredSoftware(
            software=SoftwareToMatch(id=s.id, name=s.name, version=s.version, source=s.source, vendor=s.vendor,
                                     bundle_identifier=s.bundle_identifier, release=s.release, arch=s.arch,
                                     extension_id=s.extension_id, browser=s.browser),
            generated_cpe=s.generated_cpe) for s in rows]

    async def set_generated_cpes(self, cpes: Mapping[int, str]) -> None:
        t = self.state.host_tables
        for software_id, cpe in cpes.items():
            software = t.software_by_id.get(software_id)
            if software is None or software.generated_cpe == cpe:
                continue
            updated = attrs.evolve(software, generated_cpe=cpe)
            t.software_by_id[software_id] = updated
            for key, value in t.software.items():
                if value.id == software_id:
                    t.software[key] = updated
                    break

    async def replace_cves(self, software_ids: Sequence[int], found: Sequence[SoftwareCVE],
                           at: dt.datetime) -> int:
        rows = self.state.software.software_cve
        existing = self.state.host_tables.software_by_id
        batch = set(software_ids)
        wanted = {(f.software_id, f.cve): f for f in found if f.software_id in existing}
        changed = 0
        for key in [k for k in rows if k[0] in batch and k not in wanted]:
            del rows[key]
            changed += 1
        for key, cve in wanted.items():
            stored = rows.get(key)
            if stored is None:
                rows[key] = StoredCVE(resolved_in_version=cve.resolved_in_version, created_at=at)
            elif stored.resolved_in_version != cve.resolved_in_version:
                rows[key] = attrs.evolve(stored, resolved_in_version=cve.resolved_in_version)
            else:
                continue
            changed += 1
        return changed

    async def upsert_cve_meta(self, metas: Sequence[CVEMeta]) -> None:
        for meta in metas:
            self.state.software.cve_meta[meta.cve] = meta

    async def job_state(self) -> VulnerabilityJobState:
        return self.state.software.job_state

    async def save_job_state(self, state: VulnerabilityJobState) -> None:
        self.state.software.job_state = state

