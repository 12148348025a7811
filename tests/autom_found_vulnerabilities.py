"""Writes what the vulnerability detection job stores (software_cve, cve_meta), for tests of the
automations, which only read it: straight SQL on Postgres, the in-memory tables in memory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fleet_adapters.memory.software import StoredCVE
from fleet_adapters.memory.uow import InMemoryUnitOfWork
from fleet_core.model.hosts import HostFacts, SoftwareItem
from fleet_core.model.vulnerabilities import CVEMeta
from fleet_core.ports import UnitOfWork

INSERT_SOFTWARE_CVE = """
    INSERT INTO software_cve (software_id, cve, created_at) VALUES (%(software_id)s, %(cve)s, %(at)s)
    ON CONFLICT (software_id, cve) DO NOTHING
"""
UPSERT_CVE_META = """
    INSERT INTO cve_meta (cve, cvss_score, epss_probability, cisa_known_exploit, published)
    VALUES (%(cve)s, %(cvss_score)s, %(epss_probability)s, %(cisa_known_exploit)s, %(published)s)
    ON CONFLICT (cve) DO UPDATE SET cvss_score = excluded.cvss_score
"""
DELETE_SOFTWARE_CVE = "DELETE FROM software_cve WHERE cve = %(cve)s"


async def record_found(uow: UnitOfWork, software_id: int, cve: str, at: dt.datetime,
                       meta: CVEMeta | None = None) -> None:
    if isinstance(uow, InMemoryUnitOfWork):
        tables = uow.vulnerability_announcements.state.software
        tables.software_cve.setdefault((software_id, cve), StoredCVE(resolved_in_version=None, created_at=at))
        if meta is not None:
            tables.cve_meta[cve] = meta
        return
    conn: Any = uow._conn  # type: ignore[attr-defined]
    await conn.execute(INSERT_SOFTWARE_CVE, {"software_id": software_id, "cve": cve, "at": at})
    if meta is not None:
        await conn.execute(UPSERT_CVE_META, {
            "cve": cve, "cvss_score": meta.cvss_score, "epss_probability": meta.epss_probability,
            "cisa_known_exploit": meta.cisa_known_exploit, "published": meta.published})


async def resolve(uow: UnitOfWork, cve: str) -> None:
    """The CVE no longer applies to any software (as a detection re-run leaves it)."""
    if isinstance(uow, InMemoryUnitOfWork):
        tables = uow.vulnerability_announcements.state.software
        for key in [k for k in tables.software_cve if k[1] == cve]:
            del tables.software_cve[key]
        return
    conn: Any = uow._conn  # type: ignore[attr-defined]
    await conn.execute(DELETE_SOFTWARE_CVE, {"cve": cve})


async def host_with_software(uow: UnitOfWork, name: str, at: dt.datetime, packages: list[tuple[str, str]],
                             **fields: str) -> tuple[int, dict[tuple[str, str], int]]:
    """Enroll a host reporting these (name, version) deb packages; returns its id and the
    software ids by (name, version)."""
    host = (await uow.hosts.enroll(osquery_host_id=f"osq-{name}", node_key_hash=f"key-{name}", team_id=None,
                                   at=at, fields={"hostname": name, **fields})).host
    await uow.hosts.apply_facts(host.id, HostFacts(software=tuple(
        SoftwareItem(name=n, version=v, source="deb_packages") for n, v in packages)), at=at)
    software = await uow.host_inventory.software(host.id)
    return host.id, {(s.name, s.version): s.id for s in software}
