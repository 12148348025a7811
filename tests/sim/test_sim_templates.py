"""OS templates: host_details shape, stable identities, template assignment, pinned software."""

from __future__ import annotations

import random

import msgspec
import pytest

from fleet_osquery.sim.answers import AnswerRules, HostAnswerer
from fleet_osquery.sim.templates import TEMPLATES, Software, assign_templates, get_template, make_identity


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_host_details_hold_the_four_tables_with_only_string_values(name: str) -> None:
    template = TEMPLATES[name]
    ident = make_identity(3, 42, template)
    details = template.host_details(ident)
    assert set(details) == {"os_version", "osquery_info", "system_info", "platform_info"}
    for table, row in details.items():
        assert row, table
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in row.items()), table
    assert details["system_info"]["uuid"] == details["osquery_info"]["uuid"] == ident.uuid
    assert details["system_info"]["hostname"] == ident.hostname
    assert details["system_info"]["hardware_serial"] == ident.serial
    assert details["os_version"]["platform"] == template.platform


def test_identities_are_stable_for_a_seed_and_distinct_across_hosts_and_seeds() -> None:
    t = get_template("ubuntu_22.04")
    assert make_identity(1, 5, t) == make_identity(1, 5, t)
    idents = [make_identity(1, i, t) for i in range(500)]
    for attr in ("uuid", "hostname", "serial", "mac", "ip"):
        assert len({getattr(i, attr) for i in idents}) == 500, attr
    assert make_identity(2, 5, t).uuid != make_identity(1, 5, t).uuid


def test_template_counts_and_round_robin_fill_the_host_count() -> None:
    out = assign_templates("macos_14,ubuntu_22.04:3,windows_11", 7)
    names = [t.name for t in out]
    assert names.count("ubuntu_22.04") == 3
    assert names.count("macos_14") == 2 and names.count("windows_11") == 2
    assert [t.name for t in assign_templates("rhel_9:2,macos_14.1.2:1", None)] == ["rhel_9", "rhel_9", "macos_14"]
    with pytest.raises(ValueError, match="more than the host count"):
        assign_templates("macos_14:5", 3)
    with pytest.raises(ValueError, match="unknown OS template"):
        assign_templates("beos_5", 1)


def test_report_software_replaces_the_software_answer_of_the_hosts_family_only() -> None:
    template = get_template("ubuntu_22.04")
    answerer = HostAnswerer(template, make_identity(1, 0, template), AnswerRules(), 1, rng=random.Random(1))

    def software_answer(name: str = "software_linux") -> list[dict[str, str]]:
        answer = answerer.answer(f"fleet_detail_query_{name}", "SELECT 1 FROM deb_packages")
        rows = answer.rows
        return msgspec.json.decode(rows) if isinstance(rows, msgspec.Raw) else list(rows)

    assert {r["name"] for r in software_answer()} > {"openssl"}  # the template's, cached
    answerer.report_software([Software(name="openssl", version="1.1.1k", source="deb_packages", arch="amd64")])
    rows = software_answer()
    assert [(r["name"], r["version"], r["source"], r["arch"], r["type"]) for r in rows] == [
        ("openssl", "1.1.1k", "deb_packages", "amd64", "Package (deb)")]
    assert answerer.answer("fleet_detail_query_software_macos", "SELECT 1").status == 1  # not on Linux
