"""The index the vulnerability job asks: built from the feed files once, then cached on disk.

Criteria are filed by ``vendor:product`` as flat tuples (CVE number, target_sw, criterion
version, the four bounds), strings interned, so NVD's million cpeMatch entries fit in a few
hundred MB. The whole index is written next to the feeds as msgpack, keyed by the files' names,
sizes and modification times: a process that finds the files unchanged decodes it in seconds
instead of parsing the feeds again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec
import structlog

from fleet_adapters.vulnerabilities import cisa, cpe_dictionary, epss, nvd
from fleet_core.model.vulnerabilities import CVEMatch, CVEMeta, SoftwareToMatch
from fleet_core.rules.cpe import ANY, NOT_APPLICABLE, choose_cpe, parse_cpe, version_matches_bounds
from fleet_core.rules.versions import version_key

log = structlog.get_logger(__name__)

# Bump when the cached layout or what is derived from the files changes.
INDEX_FORMAT = "fleet-vuln-index-1"
CACHE_NAME = f".{INDEX_FORMAT}.msgpack"
_CVE_FEED = re.compile(r"^nvdcve-2\.0-(\d{4}|modified)\.json\.gz$")

# (CVE number in cve_ids, target_sw, criterion version, start incl., start excl., end incl., end excl.)
Criterion = tuple[int, str, str, str | None, str | None, str | None, str | None]


class IndexData(msgspec.Struct, array_like=True):
    version: str
    cve_ids: list[str]
    cvss: list[float | None]
    published: list[str | None]
    descriptions: list[str]
    criteria: dict[str, list[Criterion]]
    dictionary: cpe_dictionary.DictionarySummary | None
    epss: dict[str, float] | None
    known_exploited: list[str] | None


def cve_feed_files(databases_path: Path) -> list[Path]:
    """The CVE feed files in the directory: the modified feed first (it overrides the yearly
    ones), then the years in order."""
    found = [path for path in databases_path.glob("nvdcve-2.0-*.json.gz") if _CVE_FEED.match(path.name)]
    return sorted(found, key=lambda path: (not path.name.endswith("-modified.json.gz"), path.name))


def input_files(databases_path: Path) -> list[Path]:
    others = [cpe_dictionary.DICTIONARY_NAME, epss.EPSS_NAME, cisa.KEV_NAME]
    return cve_feed_files(databases_path) + [
        databases_path / name for name in others if (databases_path / name).is_file()
    ]


def fingerprint(files: Iterable[Path]) -> str:
    """What identifies this set of files: names, sizes and modification times."""
    digest = hashlib.sha256(INDEX_FORMAT.encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def build(databases_path: Path, version: str) -> IndexData:
    """Parse every feed file in the directory.

    Raises:
        ValueError: a file is not in its publisher's format.
    """
    cve_ids: list[str] = []
    cvss: list[float | None] = []
    published: list[str | None] = []
    descriptions: list[str] = []
    criteria: dict[str, list[Criterion]] = {}
    seen: set[str] = set()
    for path in cve_feed_files(databases_path):
        items = nvd.read_feed(path)
        log.info("vulnerabilities.feed_parsed", file=path.name, cves=len(items))
        for item in items:
            cve = item.cve
            # The modified feed comes first: a CVE it carries is newer than the yearly copy.
            if cve.id in seen or cve.vulnStatus == "Rejected":
                continue
            seen.add(cve.id)
            number = len(cve_ids)
            cve_ids.append(cve.id)
            cvss.append(nvd.cvss_score(cve.metrics))
            published.append(cve.published)
            descriptions.append(nvd.english_description(cve))
            for match in nvd.vulnerable_matches(cve):
                _file_criterion(criteria, number, match)
        del items
    dictionary_path = databases_path / cpe_dictionary.DICTIONARY_NAME
    epss_path = databases_path / epss.EPSS_NAME
    kev_path = databases_path / cisa.KEV_NAME
    return IndexData(
        version=version,
        cve_ids=cve_ids,
        cvss=cvss,
        published=published,
        descriptions=descriptions,
        criteria=criteria,
        dictionary=cpe_dictionary.summarise(dictionary_path) if dictionary_path.is_file() else None,
        epss=epss.read_epss(epss_path) if epss_path.is_file() else None,
        known_exploited=sorted(cisa.read_known_exploited(kev_path)) if kev_path.is_file() else None,
    )


def _file_criterion(criteria: dict[str, list[Criterion]], number: int, match: nvd.CpeMatch) -> None:
    try:
        cpe = parse_cpe(match.criteria)
    except ValueError:
        return
    if cpe.part != "a":
        return
    key = sys.intern(cpe.key)
    entry: Criterion = (
        number,
        sys.intern(cpe.target_sw),
        sys.intern(cpe.version),
        _intern_optional(match.versionStartIncluding),
        _intern_optional(match.versionStartExcluding),
        _intern_optional(match.versionEndIncluding),
        _intern_optional(match.versionEndExcluding),
    )
    bucket = criteria.get(key)
    if bucket is None:
        criteria[key] = [entry]
    else:
        bucket.append(entry)


def _intern_optional(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


_ENCODER = msgspec.msgpack.Encoder()
_CACHE_DECODER = msgspec.msgpack.Decoder(IndexData)


def read_cache(databases_path: Path, version: str) -> IndexData | None:
    """The cached index when it was built from files with this fingerprint."""
    path = databases_path / CACHE_NAME
    try:
        data = _CACHE_DECODER.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    return data if data.version == version else None


def write_cache(databases_path: Path, data: IndexData) -> None:
    """Write the cache atomically; a directory we may not write to only costs the next run."""
    try:
        write_atomically(databases_path / CACHE_NAME, _ENCODER.encode(data))
    except OSError as exc:
        log.warning("vulnerabilities.index_cache_not_written", error=str(exc))


def write_atomically(path: Path, content: bytes) -> None:
    """Temporary file in the same directory, fsync, rename over, fsync the directory."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class NvdIndex:
    """VulnerabilityIndex over IndexData."""

    def __init__(self, data: IndexData) -> None:
        self._data = data
        self._numbers: dict[str, int] | None = None
        self._known_exploited = None if data.known_exploited is None else frozenset(data.known_exploited)

    @property
    def version(self) -> str:
        return self._data.version

    @property
    def cve_count(self) -> int:
        return len(self._data.cve_ids)

    @property
    def criteria_count(self) -> int:
        return sum(len(bucket) for bucket in self._data.criteria.values())

    def cpe_for(self, software: SoftwareToMatch) -> str:
        dictionary = self._data.dictionary
        if dictionary is None:
            return choose_cpe(software, {}, {})
        return choose_cpe(software, dictionary.vendors_by_product, dictionary.target_sws)

    def matches(self, cpe: str, version: str) -> list[CVEMatch]:
        if not cpe or not version:
            return []
        try:
            parsed = parse_cpe(cpe)
        except ValueError:
            return []
        bucket = self._data.criteria.get(parsed.key)
        if not bucket:
            return []
        target_sw = parsed.target_sw
        found: dict[int, str | None] = {}
        for number, criterion_target, criterion_version, s_in, s_ex, e_in, e_ex in bucket:
            if criterion_target not in (ANY, NOT_APPLICABLE) and criterion_target != target_sw:
                continue
            if not version_matches_bounds(version, criterion_version, s_in, s_ex, e_in, e_ex):
                continue
            # The nearest fix when several ranges of one CVE contain the version.
            if number not in found:
                found[number] = e_ex
            elif e_ex is not None:
                previous = found[number]
                if previous is None or version_key(e_ex) < version_key(previous):
                    found[number] = e_ex
        cve_ids = self._data.cve_ids
        return sorted(
            (CVEMatch(cve=cve_ids[number], resolved_in_version=fix) for number, fix in found.items()),
            key=lambda match: match.cve,
        )

    def meta(self, cves: Iterable[str]) -> Mapping[str, CVEMeta]:
        numbers = self._numbers
        if numbers is None:
            numbers = self._numbers = {cve: number for number, cve in enumerate(self._data.cve_ids)}
        data = self._data
        scores = data.epss
        known = self._known_exploited
        found: dict[str, CVEMeta] = {}
        for cve in cves:
            number = numbers.get(cve)
            if number is None:
                continue
            found[cve] = CVEMeta(
                cve=cve,
                cvss_score=data.cvss[number],
                epss_probability=None if scores is None else scores.get(cve),
                cisa_known_exploit=None if known is None else cve in known,
                published=_parse_timestamp(data.published[number]),
                description=data.descriptions[number],
            )
        return found


def _parse_timestamp(value: str | None) -> dt.datetime | None:
    """NVD writes ``2021-08-24T15:15:09.133`` in UTC without an offset."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
