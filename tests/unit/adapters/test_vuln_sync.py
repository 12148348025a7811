"""Data sync against a local server speaking HTTP as the publishers' file servers do: every file
downloaded under its publisher's name, conditional requests answered 304, an interrupted download
resumed with Range, a checksum mismatch rejected with the old file kept, disabled sync sending
nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_adapters.vulnerabilities import NvdVulnerabilityFeed, sync
from fleet_adapters.vulnerabilities import feed as feed_module
from fleet_core.errors import Unavailable
from tests import support_vulnfeeds as feeds

pytestmark = pytest.mark.anyio

OPENSSL_CPE = "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"
DOWNLOADED = [name for name in feeds.sample_files() if not name.endswith(".meta")]


@pytest.fixture
def server() -> Iterator[feeds.FeedServer]:
    running = feeds.FeedServer(feeds.sample_files())
    running.start()
    try:
        yield running
    finally:
        running.stop()


def feed_for(server: feeds.FeedServer, path: Path, *, disabled: bool = False) -> NvdVulnerabilityFeed:
    return NvdVulnerabilityFeed(
        path,
        cve_feed_prefix_url=server.url,
        cpe_database_url=server.url + "nvdcpe-2.0.tar.gz",
        epss_url=server.url + "epss_scores-current.csv.gz",
        cisa_kev_url=server.url + "known_exploited_vulnerabilities.json",
        disable_data_sync=disabled,
        http_timeout=10.0,
        today=lambda: dt.date(feeds.SAMPLE_YEAR, 6, 1),
    )


def test_the_default_urls_are_the_publishers() -> None:
    real = NvdVulnerabilityFeed(Path("/nonexistent"), today=lambda: dt.date(2026, 12, 4))
    urls = {item.name: (item.url, item.meta_url) for item in real.downloads()}
    assert urls["nvdcve-2.0-2002.json.gz"] == (
        "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-2002.json.gz",
        "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-2002.meta",
    )
    assert "nvdcve-2.0-2026.json.gz" in urls
    assert "nvdcve-2.0-2027.json.gz" not in urls
    assert urls["nvdcve-2.0-modified.json.gz"][0] == "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-modified.json.gz"
    assert urls["nvdcpe-2.0.tar.gz"] == ("https://nvd.nist.gov/feeds/json/cpe/2.0/nvdcpe-2.0.tar.gz", None)
    assert urls["epss_scores-current.csv.gz"][0] == feed_module.DEFAULT_EPSS_URL
    assert urls["known_exploited_vulnerabilities.json"][0] == (
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json")


async def test_a_first_sync_downloads_every_file_under_its_publishers_name(
    server: feeds.FeedServer, tmp_path: Path
) -> None:
    feed = feed_for(server, tmp_path / "db")
    await feed.sync()
    for name in DOWNLOADED:
        assert (tmp_path / "db" / name).read_bytes() == server.files[name], name
    assert (tmp_path / "db" / "nvdcve-2.0-2021.meta").read_bytes() == server.files["nvdcve-2.0-2021.meta"]
    assert not list((tmp_path / "db").glob("*.part"))
    loaded = await feed.load()
    assert [m.cve for m in loaded.matches(OPENSSL_CPE, "1.1.1k")] == ["CVE-2021-3711", "CVE-2022-0778"]


async def test_an_unchanged_feed_costs_the_meta_files_and_304s(server: feeds.FeedServer, tmp_path: Path) -> None:
    feed = feed_for(server, tmp_path / "db")
    await feed.sync()
    before = {name: (tmp_path / "db" / name).stat().st_mtime_ns for name in DOWNLOADED}
    server.requests.clear()
    await feed.sync()
    # CVE feeds: the .meta's sha256 is unchanged, the .json.gz is not even asked for.
    assert server.seen("nvdcve-2.0-2021.json.gz") == []
    assert [r.status for r in server.seen("nvdcve-2.0-2021.meta")] == [200]
    # The others: a conditional GET answered 304.
    for name in ("nvdcpe-2.0.tar.gz", "epss_scores-current.csv.gz", "known_exploited_vulnerabilities.json"):
        [request] = server.seen(name)
        assert request.status == 304
        assert request.headers["if-none-match"] == server.etag(name)
        assert "if-modified-since" in request.headers
    assert {name: (tmp_path / "db" / name).stat().st_mtime_ns for name in DOWNLOADED} == before


async def test_a_changed_file_is_downloaded_again_and_replaces_the_old_one(
    server: feeds.FeedServer, tmp_path: Path
) -> None:
    feed = feed_for(server, tmp_path / "db")
    await feed.sync()
    first = await feed.load()
    files = feeds.sample_files(modified=[])
    for name in ("nvdcve-2.0-modified.json.gz", "nvdcve-2.0-modified.meta"):
        server.replace(name, files[name])
    server.replace("known_exploited_vulnerabilities.json", feeds.kev_json(["CVE-2021-3711", "CVE-2022-0778"]))
    await feed.sync()
    assert (tmp_path / "db" / "nvdcve-2.0-modified.json.gz").read_bytes() == files["nvdcve-2.0-modified.json.gz"]
    loaded = await feed.load()
    assert loaded.version != first.version
    assert [m.cve for m in loaded.matches(OPENSSL_CPE, "3.0.1")] == ["CVE-2022-0778"]
    assert loaded.meta(["CVE-2022-0778"])["CVE-2022-0778"].cisa_known_exploit is True


async def test_an_interrupted_download_resumes_where_it_stopped(server: feeds.FeedServer, tmp_path: Path) -> None:
    feed = feed_for(server, tmp_path / "db")
    name = "nvdcpe-2.0.tar.gz"
    server.cut_after[name] = 700
    with pytest.raises(Unavailable):
        await feed.sync()
    assert not (tmp_path / "db" / name).exists()  # never seen half-written
    assert (tmp_path / "db" / (name + ".part")).stat().st_size == 700
    server.requests.clear()
    await feed.sync()
    [resumed] = server.seen(name)
    assert (resumed.headers["range"], resumed.status) == ("bytes=700-", 206)
    assert resumed.headers["if-range"] == server.etag(name)
    assert (tmp_path / "db" / name).read_bytes() == server.files[name]
    assert not (tmp_path / "db" / (name + ".part")).exists()


async def test_a_partial_download_of_a_file_that_changed_meanwhile_starts_over(
    server: feeds.FeedServer, tmp_path: Path
) -> None:
    feed = feed_for(server, tmp_path / "db")
    name = "known_exploited_vulnerabilities.json"
    server.cut_after[name] = 50
    with pytest.raises(Unavailable):
        await feed.sync()
    server.replace(name, feeds.kev_json(["CVE-2022-0778"]))
    server.requests.clear()
    await feed.sync()
    [request] = server.seen(name)
    assert request.status == 200  # If-Range no longer matched: the whole new file
    assert (tmp_path / "db" / name).read_bytes() == server.files[name]


async def test_a_checksum_mismatch_is_rejected_and_the_previous_file_kept(
    server: feeds.FeedServer, tmp_path: Path
) -> None:
    feed = feed_for(server, tmp_path / "db")
    await feed.sync()
    good = (tmp_path / "db" / "nvdcve-2.0-2021.json.gz").read_bytes()
    # The server's .meta announces new content, but the file it serves does not match it.
    changed = feeds.sample_files()
    feeds.add_cve_feed(changed, "nvdcve-2.0-2021", feeds.SAMPLE_CVES[2021][:1])
    server.replace("nvdcve-2.0-2021.meta", changed["nvdcve-2.0-2021.meta"])
    server.replace("nvdcve-2.0-2021.json.gz", feeds.gzipped(b'{"vulnerabilities": []}'))
    with pytest.raises(Unavailable, match="sha256"):
        await feed.sync()
    assert (tmp_path / "db" / "nvdcve-2.0-2021.json.gz").read_bytes() == good
    assert not (tmp_path / "db" / "nvdcve-2.0-2021.json.gz.part").exists()
    loaded = await feed.load()
    assert [m.cve for m in loaded.matches(OPENSSL_CPE, "1.1.1k")] == ["CVE-2021-3711", "CVE-2022-0778"]


async def test_a_truncated_gzip_without_a_checksum_is_rejected(server: feeds.FeedServer, tmp_path: Path) -> None:
    feed = feed_for(server, tmp_path / "db")
    await feed.sync()
    good = (tmp_path / "db" / "epss_scores-current.csv.gz").read_bytes()
    server.replace("epss_scores-current.csv.gz", good[: len(good) // 2])
    with pytest.raises(Unavailable):
        await feed.sync()
    assert (tmp_path / "db" / "epss_scores-current.csv.gz").read_bytes() == good


async def test_a_failing_server_leaves_the_files_usable(server: feeds.FeedServer, tmp_path: Path) -> None:
    feed = feed_for(server, tmp_path / "db")
    await feed.sync()
    del server.files["nvdcve-2.0-modified.meta"]
    server.replace("nvdcve-2.0-2021.json.gz", b"")  # whatever: never fetched, its meta is unchanged
    with pytest.raises(Unavailable, match=r"nvdcve-2\.0-modified\.meta"):
        await feed.sync()
    loaded = await feed.load()
    assert [m.cve for m in loaded.matches(OPENSSL_CPE, "1.1.1k")] == ["CVE-2021-3711", "CVE-2022-0778"]


async def test_disabled_sync_asks_nothing_and_loads_what_the_operator_placed(
    server: feeds.FeedServer, tmp_path: Path
) -> None:
    feeds.write_files(tmp_path / "db", {name: content for name, content in feeds.sample_files().items()
                                        if not name.endswith(".meta")})
    feed = feed_for(server, tmp_path / "db", disabled=True)
    await feed.sync()
    assert server.requests == []
    loaded = await feed.load()
    assert [m.cve for m in loaded.matches(OPENSSL_CPE, "1.1.1k")] == ["CVE-2021-3711", "CVE-2022-0778"]


async def test_the_sync_state_holds_validators_and_no_secret(server: feeds.FeedServer, tmp_path: Path) -> None:
    await feed_for(server, tmp_path / "db").sync()
    state = json.loads((tmp_path / "db" / sync.STATE_NAME).read_text())
    assert state["nvdcpe-2.0.tar.gz"]["etag"] == server.etag("nvdcpe-2.0.tar.gz")
    assert set(state["nvdcpe-2.0.tar.gz"]) == {"etag", "last_modified", "sha256", "size", "mtime_ns"}


async def test_a_transfer_compressed_against_our_wish_is_stored_decoded(
    server: feeds.FeedServer, tmp_path: Path
) -> None:
    server.gzip_transfer.add("known_exploited_vulnerabilities.json")
    feed = feed_for(server, tmp_path / "db")
    await feed.sync()
    [request] = server.seen("known_exploited_vulnerabilities.json")
    assert request.headers["accept-encoding"] == "identity"
    stored = tmp_path / "db" / "known_exploited_vulnerabilities.json"
    assert stored.read_bytes() == server.files["known_exploited_vulnerabilities.json"]


async def test_a_databases_path_that_cannot_be_created_is_unavailable(server: feeds.FeedServer, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(Unavailable):
        await feed_for(server, tmp_path / "file" / "db").sync()
    assert server.requests == []
