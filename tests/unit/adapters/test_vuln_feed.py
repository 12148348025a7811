"""The feed engine over files on disk: the parsers on files written in the publishers' formats,
the index's answers (CVE-2021-3711 on openssl), the modified feed overriding the yearly ones, and
the index reused while the files are unchanged."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_adapters.vulnerabilities import NvdVulnerabilityFeed, cisa, cpe_dictionary, epss, index, nvd
from fleet_adapters.vulnerabilities.index import NvdIndex
from fleet_core.errors import Unavailable
from fleet_core.model.vulnerabilities import CVEMatch, SoftwareToMatch
from fleet_core.ports.vulnerability_feeds import VulnerabilityFeed, VulnerabilityIndex
from fleet_core.rules.cpe import VersionRange, quote_component, version_matches
from fleet_core.rules.versions import compare_versions, version_key
from tests import support_vulnfeeds as feeds

pytestmark = pytest.mark.anyio

OPENSSL_CPE = "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"


def _conforms(feed: NvdVulnerabilityFeed, loaded: NvdIndex) -> tuple[VulnerabilityFeed, VulnerabilityIndex]:
    """Checked by mypy, not at run time: the engine implements the port."""
    return feed, loaded


def offline_feed(path: Path) -> NvdVulnerabilityFeed:
    return NvdVulnerabilityFeed(path, disable_data_sync=True, today=lambda: dt.date(feeds.SAMPLE_YEAR, 6, 1))


@pytest.fixture
def databases(tmp_path: Path) -> Path:
    directory = tmp_path / "vulndb"
    feeds.write_files(directory, feeds.sample_files())
    return directory


def test_the_cve_feed_parser_reads_nvd_json_2_0(databases: Path) -> None:
    items = nvd.read_feed(databases / "nvdcve-2.0-2021.json.gz")
    assert [item.cve.id for item in items] == ["CVE-2021-3711", "CVE-2021-23337"]
    openssl = items[0].cve
    assert nvd.cvss_score(openssl.metrics) == 9.8
    assert nvd.english_description(openssl).startswith("In order to decrypt SM2")
    [match] = list(nvd.vulnerable_matches(openssl))
    assert (match.criteria, match.versionStartIncluding, match.versionEndExcluding) == (
        feeds.OPENSSL, "1.1.1", "1.1.1l")


def test_platform_entries_of_an_and_configuration_are_not_vulnerable_products(databases: Path) -> None:
    items = nvd.read_feed(databases / "nvdcve-2.0-2022.json.gz")
    bn_mod_sqrt = next(item.cve for item in items if item.cve.id == "CVE-2022-0778")
    criteria = {match.criteria for match in nvd.vulnerable_matches(bn_mod_sqrt)}
    assert criteria == {feeds.OPENSSL}


def test_the_score_falls_back_from_v3_1_to_v3_0_to_v2(databases: Path) -> None:
    items = nvd.read_feed(databases / "nvdcve-2.0-2022.json.gz")
    scores = {item.cve.id: nvd.cvss_score(item.cve.metrics) for item in items}
    assert scores["CVE-2022-1000"] == 6.1  # v3.0 only
    assert scores["CVE-2022-1001"] == 4.3  # v2 only


def test_nvds_own_score_is_preferred_to_a_cnas() -> None:
    primary = nvd.Metric(cvssData=nvd.CvssData(baseScore=9.8), type="Primary")
    secondary = nvd.Metric(cvssData=nvd.CvssData(baseScore=8.8), type="Secondary")
    assert nvd.cvss_score(nvd.Metrics(cvssMetricV31=[secondary, primary])) == 9.8
    assert nvd.cvss_score(nvd.Metrics(cvssMetricV31=[secondary], cvssMetricV2=[primary])) == 8.8
    assert nvd.cvss_score(nvd.Metrics()) is None


def test_the_meta_file_gives_the_sha256_of_the_uncompressed_json(databases: Path) -> None:
    import hashlib

    fields = nvd.parse_meta((databases / "nvdcve-2.0-2021.meta").read_text())
    raw = gzip.decompress((databases / "nvdcve-2.0-2021.json.gz").read_bytes())
    assert fields["sha256"].lower() == hashlib.sha256(raw).hexdigest()
    assert fields["lastModifiedDate"].startswith("2026-12-04T03:00:01")


def test_the_other_parsers_read_their_publishers_files(databases: Path) -> None:
    summary = cpe_dictionary.summarise(databases / cpe_dictionary.DICTIONARY_NAME)
    assert summary.vendors_by_product["openssl"] == ["openssl"]
    assert summary.vendors_by_product["notes"] == ["acme", "globex"]
    assert "debian_linux" not in summary.vendors_by_product  # an OS, not an application
    assert summary.target_sws["lodash:lodash"] == ["node.js"]
    assert epss.read_epss(databases / epss.EPSS_NAME) == {"CVE-2021-3711": 0.01234, "CVE-2022-0778": 0.05}
    assert cisa.read_known_exploited(databases / cisa.KEV_NAME) == {"CVE-2021-3711"}


@pytest.mark.parametrize(
    "name", ["nvdcve-2.0-2021.json.gz", cpe_dictionary.DICTIONARY_NAME, epss.EPSS_NAME, cisa.KEV_NAME]
)
def test_a_file_not_in_its_format_is_refused_not_misread(databases: Path, name: str) -> None:
    (databases / name).write_bytes(b"<html>maintenance</html>")
    readers = {
        "nvdcve-2.0-2021.json.gz": nvd.read_feed,
        cpe_dictionary.DICTIONARY_NAME: lambda path: list(cpe_dictionary.iter_cpe_names(path)),
        epss.EPSS_NAME: epss.read_epss,
        cisa.KEV_NAME: cisa.read_known_exploited,
    }
    with pytest.raises(ValueError):
        readers[name](databases / name)


async def test_cve_2021_3711_matches_1_1_1k_and_not_1_1_1l_or_1_1_0(databases: Path) -> None:
    loaded = await offline_feed(databases).load()
    assert [m.cve for m in loaded.matches(OPENSSL_CPE, "1.1.1k")] == ["CVE-2021-3711", "CVE-2022-0778"]
    assert CVEMatch("CVE-2021-3711", resolved_in_version="1.1.1l") in loaded.matches(OPENSSL_CPE, "1.1.1k")
    assert [m.cve for m in loaded.matches(OPENSSL_CPE, "1.1.1l")] == ["CVE-2022-0778"]
    assert loaded.matches(OPENSSL_CPE, "1.1.1n") == []
    assert loaded.matches(OPENSSL_CPE, "1.1.0") == []
    assert loaded.matches("", "1.1.1k") == []


async def test_a_deb_openssl_is_translated_and_matched_with_its_scores(databases: Path) -> None:
    loaded = await offline_feed(databases).load()
    row = SoftwareToMatch(id=7, name="openssl", version="1.1.1k-1ubuntu2.1", source="deb_packages")
    cpe = loaded.cpe_for(row)
    assert cpe == "cpe:2.3:a:openssl:openssl:1.1.1k-1ubuntu2.1:*:*:*:*:*:*:*"
    assert [m.cve for m in loaded.matches(cpe, row.version)] == ["CVE-2021-3711", "CVE-2022-0778"]
    meta = loaded.meta(["CVE-2021-3711", "CVE-2022-0778", "CVE-1999-0001"])
    assert set(meta) == {"CVE-2021-3711", "CVE-2022-0778"}
    openssl = meta["CVE-2021-3711"]
    assert (openssl.cvss_score, openssl.epss_probability, openssl.cisa_known_exploit) == (9.8, 0.01234, True)
    assert openssl.published == dt.datetime(2021, 8, 24, 15, 15, 9, 133000, tzinfo=dt.UTC)
    assert openssl.details_link == "https://nvd.nist.gov/vuln/detail/CVE-2021-3711"
    assert meta["CVE-2022-0778"].cisa_known_exploit is False


async def test_ecosystem_criteria_only_match_software_of_that_ecosystem(databases: Path) -> None:
    loaded = await offline_feed(databases).load()
    npm = loaded.cpe_for(SoftwareToMatch(id=1, name="lodash", version="4.17.20", source="npm_packages"))
    assert [m.cve for m in loaded.matches(npm, "4.17.20")] == ["CVE-2021-23337"]
    assert loaded.matches("cpe:2.3:a:lodash:lodash:4.17.20:*:*:*:*:*:*:*", "4.17.20") == []
    flask = loaded.cpe_for(SoftwareToMatch(id=2, name="Flask", version="2.2.4", source="python_packages"))
    assert [m.cve for m in loaded.matches(flask, "2.2.4")] == ["CVE-2023-30861"]
    assert loaded.matches(flask, "2.2.5") == []
    assert [m.cve for m in loaded.matches(flask, "2.3.1")] == ["CVE-2023-30861"]


async def test_excluding_starts_including_ends_and_fixed_versions_match_as_written(databases: Path) -> None:
    loaded = await offline_feed(databases).load()
    firefox = "cpe:2.3:a:mozilla:firefox:*:*:*:*:*:*:*:*"
    assert loaded.matches(firefox, "100.0") == []
    assert [m.cve for m in loaded.matches(firefox, "100.0.1")] == ["CVE-2022-1000"]
    assert [m.cve for m in loaded.matches(firefox, "102.0")] == ["CVE-2022-1000"]
    assert loaded.matches(firefox, "102.0.1") == []
    git = "cpe:2.3:a:git-scm:git:2.30.0:*:*:*:*:*:*:*"
    assert [m.cve for m in loaded.matches(git, "2.30.0")] == ["CVE-2022-1001"]
    assert loaded.matches(git, "2.30.1") == []


async def test_the_modified_feed_overrides_the_yearly_copy_and_rejected_cves_are_dropped(databases: Path) -> None:
    loaded = await offline_feed(databases).load()
    # The yearly copy also listed the 1.0.2 and 3.0 branches; the modified copy does not.
    assert loaded.matches(OPENSSL_CPE, "3.0.1") == []
    assert loaded.meta(["CVE-2022-0778"])["CVE-2022-0778"].description.endswith("(modified feed text).")
    assert loaded.meta(["CVE-2022-1002"]) == {}


async def test_an_unchanged_directory_reuses_the_index_and_a_changed_file_rebuilds_it(
    databases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await offline_feed(databases).load()
    assert (databases / index.CACHE_NAME).is_file()

    def no_parse(*_: object) -> index.IndexData:
        raise AssertionError("the feeds were parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(index, "build", no_parse)
        again = await offline_feed(databases).load()  # a new process: from the cache file
    assert again.version == first.version
    assert again.matches(OPENSSL_CPE, "1.1.1k") == first.matches(OPENSSL_CPE, "1.1.1k")

    files = feeds.sample_files(modified=[])
    (databases / "nvdcve-2.0-modified.json.gz").write_bytes(files["nvdcve-2.0-modified.json.gz"])
    rebuilt = await offline_feed(databases).load()
    assert rebuilt.version != first.version
    assert [m.cve for m in rebuilt.matches(OPENSSL_CPE, "3.0.1")] == ["CVE-2022-0778"]


async def test_one_feed_object_answers_from_memory_while_nothing_changed(databases: Path) -> None:
    feed = offline_feed(databases)
    assert await feed.load() is await feed.load()


async def test_no_cve_feed_on_disk_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable):
        await offline_feed(tmp_path).load()


async def test_an_unreadable_feed_file_is_unavailable_not_a_crash(databases: Path) -> None:
    (databases / "nvdcve-2.0-2021.json.gz").write_bytes(b"not gzip")
    with pytest.raises(Unavailable):
        await offline_feed(databases).load()


async def test_without_the_dictionary_only_the_translation_table_names_cpes(databases: Path) -> None:
    (databases / cpe_dictionary.DICTIONARY_NAME).unlink()
    (databases / epss.EPSS_NAME).unlink()
    loaded = await offline_feed(databases).load()
    assert loaded.cpe_for(SoftwareToMatch(id=1, name="openssl", version="1.1.1k", source="deb_packages")) == ""
    git = SoftwareToMatch(id=2, name="git", version="2.30.0", source="deb_packages")
    assert loaded.cpe_for(git) == "cpe:2.3:a:git-scm:git:2.30.0:*:*:*:*:*:*:*"
    assert loaded.meta(["CVE-2021-3711"])["CVE-2021-3711"].epss_probability is None


# --- the index against a brute-force reading of the criteria --------------------------------

_VERSION = st.sampled_from(["1.0", "1.1.1", "1.1.1k", "1.1.1l", "2.0~rc1", "2.0", "2.0-1ubuntu1", "1:2.0", "3.1"])
_OPTIONAL = st.none() | _VERSION
_PRODUCT = st.sampled_from([("acme", "tool", "*"), ("acme", "lib", "python"), ("globex", "tool", "*")])


@st.composite
def _criteria(draw: st.DrawFn) -> list[tuple[str, str, str, str, str | None, str | None, str | None, str | None]]:
    """(cve, vendor, product, target_sw + criterion version, bounds...) rows."""
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        vendor, product, target = draw(_PRODUCT)
        fixed = draw(st.sampled_from(["*", "-", "1.1.1k", "2.0"]))
        rows.append((f"CVE-2020-{draw(st.integers(1, 6)):04d}", vendor, product, f"{target}|{fixed}",
                     draw(_OPTIONAL), draw(_OPTIONAL), draw(_OPTIONAL), draw(_OPTIONAL)))
    return rows


@given(_criteria(), _PRODUCT, st.sampled_from(["*", "python"]), _VERSION)
@settings(max_examples=150, deadline=None)
def test_the_index_answers_what_the_range_rules_say_criterion_by_criterion(
    rows: list[tuple[str, str, str, str, str | None, str | None, str | None, str | None]],
    asked: tuple[str, str, str],
    target_sw: str,
    version: str,
) -> None:
    cve_ids = sorted({row[0] for row in rows})
    numbers = {cve: number for number, cve in enumerate(cve_ids)}
    criteria: dict[str, list[index.Criterion]] = {}
    for cve, vendor, product, target_and_fixed, s_in, s_ex, e_in, e_ex in rows:
        target, fixed = target_and_fixed.split("|")
        criteria.setdefault(f"{vendor}:{product}", []).append((numbers[cve], target, fixed, s_in, s_ex, e_in, e_ex))
    data = index.IndexData(
        version="v", cve_ids=cve_ids, cvss=[None] * len(cve_ids), published=[None] * len(cve_ids),
        descriptions=[""] * len(cve_ids), criteria=criteria, dictionary=None, epss=None, known_exploited=None,
    )
    vendor, product, _ = asked
    cpe = f"cpe:2.3:a:{vendor}:{product}:{quote_component(version)}:*:*:*:*:{target_sw}:*:*"
    expected: dict[str, list[str | None]] = {}
    for cve, row_vendor, row_product, target_and_fixed, s_in, s_ex, e_in, e_ex in rows:
        target, fixed = target_and_fixed.split("|")
        if (row_vendor, row_product) != (vendor, product) or target not in ("*", target_sw):
            continue
        if version_matches(version, fixed, VersionRange(s_in, s_ex, e_in, e_ex)):
            expected.setdefault(cve, []).append(e_ex)
    found = NvdIndex(data).matches(cpe, version)
    assert [match.cve for match in found] == sorted(expected)
    for match in found:
        fixes = [fix for fix in expected[match.cve] if fix is not None]
        nearest = min(fixes, key=version_key) if fixes else None
        assert (match.resolved_in_version is None) == (nearest is None)
        if nearest is not None:
            assert match.resolved_in_version is not None
            assert compare_versions(match.resolved_in_version, nearest) == 0
