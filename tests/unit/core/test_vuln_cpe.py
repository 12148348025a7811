"""CPE rules (fleet_core.rules.cpe): names, the choice of a software row's CPE, range matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.vulnerabilities import SoftwareToMatch
from fleet_core.rules.cpe import (
    CPE,
    VersionRange,
    choose_cpe,
    format_cpe,
    normalise_name,
    normalise_vendor,
    parse_cpe,
    quote_component,
    version_matches,
)
from fleet_core.rules.versions import compare_versions

VENDORS_BY_PRODUCT = {
    "openssl": ["openssl"],
    "chrome": ["google"],
    "firefox": ["mozilla"],
    "teams": ["microsoft"],
    "flask": ["palletsprojects"],
    "lodash": ["lodash"],
    "ublock_origin": ["ublock_origin_project"],
    "notes": ["acme", "globex"],
    "libxml2": ["xmlsoft", "redhat"],
    "requests": ["python", "requests_project"],
}
TARGET_SWS = {
    "palletsprojects:flask": ["python"],
    "lodash:lodash": ["node.js"],
    "ublock_origin_project:ublock_origin": ["chrome", "firefox"],
    "python:requests": ["python"],
}


def software(name: str, version: str, source: str, **more: str) -> SoftwareToMatch:
    return SoftwareToMatch(id=1, name=name, version=version, source=source, **more)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (software("openssl", "1.1.1k-1ubuntu2.1", "deb_packages"),
         "cpe:2.3:a:openssl:openssl:1.1.1k-1ubuntu2.1:*:*:*:*:*:*:*"),
        (software("openssl", "1:1.1.1k-5.el8_5", "rpm_packages", vendor="Red Hat, Inc."),
         "cpe:2.3:a:openssl:openssl:1\\:1.1.1k-5.el8_5:*:*:*:*:*:*:*"),
        (software("libxml2", "2.9.10", "rpm_packages", vendor="Red Hat, Inc."),
         "cpe:2.3:a:redhat:libxml2:2.9.10:*:*:*:*:*:*:*"),
        (software("Google Chrome.app", "108.0.5359.124", "apps", bundle_identifier="com.google.Chrome"),
         "cpe:2.3:a:google:chrome:108.0.5359.124:*:*:*:*:*:*:*"),
        (software("Mozilla Firefox (x64 en-US)", "101.0", "programs", vendor="Mozilla"),
         "cpe:2.3:a:mozilla:firefox:101.0:*:*:*:*:*:*:*"),
        (software("Microsoft Teams", "1.5.00.1", "programs", vendor="Microsoft Corporation"),
         "cpe:2.3:a:microsoft:teams:1.5.00.1:*:*:*:*:*:*:*"),
        (software("Flask", "2.2.4", "python_packages"), "cpe:2.3:a:palletsprojects:flask:2.2.4:*:*:*:*:python:*:*"),
        (software("requests", "2.25.0", "python_packages"), "cpe:2.3:a:python:requests:2.25.0:*:*:*:*:python:*:*"),
        (software("lodash", "4.17.20", "npm_packages"), "cpe:2.3:a:lodash:lodash:4.17.20:*:*:*:*:node.js:*:*"),
        (software("uBlock Origin", "1.44.0", "chrome_extensions", extension_id="cjpalhdlnbpafiamejdnhcphjbkeiagm",
                  browser="chrome"),
         "cpe:2.3:a:ublock_origin_project:ublock_origin:1.44.0:*:*:*:*:chrome:*:*"),
        (software("uBlock Origin", "1.44.0", "firefox_addons"),
         "cpe:2.3:a:ublock_origin_project:ublock_origin:1.44.0:*:*:*:*:firefox:*:*"),
        # The translation table: the name does not say the NVD product.
        (software("Visual Studio Code.app", "1.74.0", "apps", bundle_identifier="com.microsoft.VSCode"),
         "cpe:2.3:a:microsoft:visual_studio_code:1.74.0:*:*:*:*:*:*:*"),
        (software("zoom.us.app", "5.12.9", "apps", bundle_identifier="us.zoom.xos"),
         "cpe:2.3:a:zoom:zoom:5.12.9:*:*:*:*:*:*:*"),
        (software("git", "1:2.30.0-1", "deb_packages"), "cpe:2.3:a:git-scm:git:1\\:2.30.0-1:*:*:*:*:*:*:*"),
    ],
)
def test_each_source_gets_the_cpe_the_reference_describes(row: SoftwareToMatch, expected: str) -> None:
    assert choose_cpe(row, VENDORS_BY_PRODUCT, TARGET_SWS) == expected


@pytest.mark.parametrize(
    "row",
    [
        software("Notes.app", "1.0", "apps"),  # two vendors publish "notes", nothing says which
        software("Unknown Tool", "1.0", "programs", vendor="Nobody"),
        software("lodash", "4.17.20", "python_packages"),  # no python lodash in the dictionary
        software("flask", "2.2.4", "npm_packages"),
    ],
)
def test_software_the_dictionary_does_not_name_gets_no_cpe(row: SoftwareToMatch) -> None:
    assert choose_cpe(row, VENDORS_BY_PRODUCT, TARGET_SWS) == ""


def test_a_vendor_hint_settles_an_ambiguous_product() -> None:
    row = software("Notes", "1.0", "programs", vendor="Globex Corporation")
    assert choose_cpe(row, VENDORS_BY_PRODUCT, TARGET_SWS) == "cpe:2.3:a:globex:notes:1.0:*:*:*:*:*:*:*"


def test_names_and_publishers_are_normalised_as_the_dictionary_spells_them() -> None:
    assert normalise_name("Google Chrome.app") == "google_chrome"
    assert normalise_name("7-Zip 22.01 (x64)") == "7-zip"
    assert normalise_vendor("Mozilla Corporation") == ["mozilla"]
    assert normalise_vendor("Red Hat, Inc.") == ["red_hat", "redhat", "red"]
    assert normalise_vendor("Fedora Project <packager@fedoraproject.org>") == ["fedora"]


def test_a_cpe_with_quoted_colons_parses_and_formats_back() -> None:
    name = "cpe:2.3:a:openssl:openssl:1\\:1.1.1k:*:*:*:*:*:*:*"
    parsed = parse_cpe(name)
    assert parsed.version == "1\\:1.1.1k"
    assert format_cpe(parsed) == name


@pytest.mark.parametrize(
    "bad", ["", "cpe:/a:openssl:openssl", "cpe:2.3:a:openssl", "cpe:2.3:a::openssl:*:*:*:*:*:*:*:*"]
)
def test_what_is_not_a_cpe_23_name_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cpe(bad)


_COMPONENT = st.text(st.characters(codec="ascii", exclude_characters="\x00"), min_size=1, max_size=12)


@given(st.lists(_COMPONENT, min_size=4, max_size=4))
def test_quoted_components_round_trip_through_a_cpe_name(values: list[str]) -> None:
    vendor, product, version, target = (quote_component(value) for value in values)
    cpe = CPE("a", vendor, product, version, target_sw=target)
    assert parse_cpe(format_cpe(cpe)) == cpe


# --- range matching -------------------------------------------------------------------------

_VERSIONS = st.sampled_from(["1.0", "1.1.0", "1.1.1", "1.1.1a", "1.1.1k", "1.1.1l", "1.1.2", "2.0", "2.0~rc1",
                             "1.1.1k-1ubuntu1", "3.0.0", "3.0.2", "10.0"])
_BOUND = st.none() | _VERSIONS


def test_cve_2021_3711_covers_1_1_1k_and_not_the_fix_or_the_older_branch() -> None:
    bounds = VersionRange(start_including="1.1.1", end_excluding="1.1.1l")
    assert version_matches("1.1.1k", "*", bounds)
    assert version_matches("1.1.1", "*", bounds)
    assert version_matches("1.1.1k-1ubuntu2.1", "*", bounds)
    assert version_matches("1:1.1.1k-5.el8", "*", bounds)  # an RPM epoch is not NVD's
    assert not version_matches("1.1.1l", "*", bounds)
    assert not version_matches("1.1.0", "*", bounds)
    assert not version_matches("3.0.0", "*", bounds)


def test_a_criterion_without_bounds_takes_its_own_version_or_any() -> None:
    assert version_matches("2.30.0", "2.30.0", VersionRange())
    assert not version_matches("2.30.1", "2.30.0", VersionRange())
    assert version_matches("0.1", "*", VersionRange())
    assert not version_matches("0.1", "-", VersionRange())
    assert not version_matches("", "*", VersionRange())


@given(_VERSIONS, _BOUND, _BOUND, _BOUND, _BOUND)
def test_range_membership_agrees_with_the_comparisons(
    version: str, s_in: str | None, s_ex: str | None, e_in: str | None, e_ex: str | None
) -> None:
    bounds = VersionRange(s_in, s_ex, e_in, e_ex)
    expected = all([
        s_in is None or compare_versions(version, s_in) >= 0,
        s_ex is None or compare_versions(version, s_ex) > 0,
        e_in is None or compare_versions(version, e_in) <= 0,
        e_ex is None or compare_versions(version, e_ex) < 0,
    ])
    if bounds == VersionRange():
        expected = True
    assert version_matches(version, "*", bounds) == expected


@given(_VERSIONS, _VERSIONS, _VERSIONS)
def test_a_half_open_range_splits_versions_at_its_ends(version: str, low: str, high: str) -> None:
    inside = version_matches(version, "*", VersionRange(start_including=low, end_excluding=high))
    below = version_matches(version, "*", VersionRange(end_excluding=low))
    above = version_matches(version, "*", VersionRange(start_including=high))
    if compare_versions(low, high) <= 0:
        assert inside + below + above == 1
