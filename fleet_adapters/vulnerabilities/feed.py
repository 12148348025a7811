"""NvdVulnerabilityFeed: the VulnerabilityFeed port over files in the databases path."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
import structlog

from fleet_adapters.vulnerabilities import cisa, cpe_dictionary, epss, index, nvd
from fleet_adapters.vulnerabilities.sync import Download, DownloadFailed, SyncState, download
from fleet_core.errors import Unavailable
from fleet_core.model.vulnerability_settings import (
    CISA_KNOWN_EXPLOITS_URL,
    EPSS_SCORES_URL,
    NVD_CPE_DATABASE_URL,
    NVD_CVE_FEED_PREFIX_URL,
)

log = structlog.get_logger(__name__)

# Where the publishers serve the files today (one definition, shared with the settings).
DEFAULT_CVE_FEED_PREFIX_URL = NVD_CVE_FEED_PREFIX_URL
DEFAULT_CPE_DATABASE_URL = NVD_CPE_DATABASE_URL
DEFAULT_EPSS_URL = EPSS_SCORES_URL
DEFAULT_CISA_KEV_URL = CISA_KNOWN_EXPLOITS_URL

_PARALLEL_DOWNLOADS = 4


class NvdVulnerabilityFeed:
    """Keeps NVD's CVE feeds (2002 to this year, plus the modified feed), NVD's CPE dictionary,
    FIRST's EPSS scores and CISA's catalogue in ``databases_path`` and indexes them.

    With ``disable_data_sync`` nothing is downloaded: the index is built from what an operator
    placed in the directory, under the publishers' file names.
    """

    def __init__(
        self,
        databases_path: Path,
        *,
        cve_feed_prefix_url: str = DEFAULT_CVE_FEED_PREFIX_URL,
        cpe_database_url: str = DEFAULT_CPE_DATABASE_URL,
        epss_url: str = DEFAULT_EPSS_URL,
        cisa_kev_url: str = DEFAULT_CISA_KEV_URL,
        disable_data_sync: bool = False,
        http_timeout: float = 120.0,
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
    ) -> None:
        self._path = databases_path
        self._prefix = cve_feed_prefix_url if cve_feed_prefix_url.endswith("/") else cve_feed_prefix_url + "/"
        self._cpe_url = cpe_database_url
        self._epss_url = epss_url
        self._kev_url = cisa_kev_url
        self._disabled = disable_data_sync
        self._timeout = http_timeout
        self._today = today
        self._index: index.NvdIndex | None = None
        self._load_lock = asyncio.Lock()

    def downloads(self) -> list[Download]:
        """Every file sync() keeps up to date, with its URL."""
        cve_names = [nvd.yearly_name(year) for year in range(nvd.FIRST_YEAR, self._today().year + 1)]
        cve_names.append(nvd.MODIFIED_NAME)
        items = [
            Download(self._prefix + name, name, meta_url=self._prefix + nvd.meta_name(name))
            for name in cve_names
        ]
        items.append(Download(self._cpe_url, cpe_dictionary.DICTIONARY_NAME))
        items.append(Download(self._epss_url, epss.EPSS_NAME))
        items.append(Download(self._kev_url, cisa.KEV_NAME))
        return items

    async def sync(self) -> None:
        if self._disabled:
            return
        try:
            self._path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"vulnerability databases path unusable: {exc.strerror}") from exc
        state = SyncState(self._path)
        limit = asyncio.Semaphore(_PARALLEL_DOWNLOADS)
        failures: list[str] = []
        replaced: list[str] = []

        async def one(client: httpx.AsyncClient, item: Download) -> None:
            async with limit:
                try:
                    if await download(client, self._path, item, state):
                        replaced.append(item.name)
                except DownloadFailed as exc:
                    failures.append(str(exc))
                except OSError as exc:  # the state file or the directory, not the download
                    failures.append(f"{item.name}: {exc.strerror or exc.__class__.__name__}")

        timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, 30.0))
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            await asyncio.gather(*(one(client, item) for item in self.downloads()))
        log.info("vulnerabilities.sync_done", replaced=len(replaced), failed=len(failures))
        if failures:
            # URLs only: they carry no secret. The previous files stay usable.
            raise Unavailable("vulnerability feed download failed: " + "; ".join(sorted(failures)[:5]))

    async def load(self) -> index.NvdIndex:
        async with self._load_lock:
            return await asyncio.to_thread(self._load_blocking)

    def _load_blocking(self) -> index.NvdIndex:
        if not index.cve_feed_files(self._path):
            raise Unavailable(f"no NVD CVE feed (nvdcve-2.0-*.json.gz) in {self._path}")
        version = index.fingerprint(index.input_files(self._path))
        if self._index is not None and self._index.version == version:
            return self._index
        data = index.read_cache(self._path, version)
        if data is None:
            log.info("vulnerabilities.index_building", path=str(self._path))
            try:
                data = index.build(self._path, version)
            except ValueError as exc:
                raise Unavailable(f"vulnerability feed unreadable: {exc}") from exc
            index.write_cache(self._path, data)
        self._index = index.NvdIndex(data)
        log.info("vulnerabilities.index_loaded", cves=self._index.cve_count, version=version)
        return self._index
