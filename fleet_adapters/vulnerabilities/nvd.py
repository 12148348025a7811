"""NVD's CVE JSON 2.0 feeds (``nvdcve-2.0-<year>.json.gz``, ``nvdcve-2.0-modified.json.gz``).

Each file is decoded in one go with msgspec into Structs that name only the fields the engine
uses (msgspec skips the rest without building objects), one file at a time, so the peak is one
year's JSON rather than the whole feed. Field names are NVD's own (camelCase).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import msgspec


class CpeMatch(msgspec.Struct):
    criteria: str
    vulnerable: bool = False
    versionStartIncluding: str | None = None
    versionStartExcluding: str | None = None
    versionEndIncluding: str | None = None
    versionEndExcluding: str | None = None


class Node(msgspec.Struct):
    operator: str = "OR"
    negate: bool = False
    cpeMatch: list[CpeMatch] = msgspec.field(default_factory=list)


class Configuration(msgspec.Struct):
    nodes: list[Node] = msgspec.field(default_factory=list)
    operator: str | None = None
    negate: bool = False


class CvssData(msgspec.Struct):
    baseScore: float | None = None


class Metric(msgspec.Struct):
    cvssData: CvssData
    type: str = "Primary"


class Metrics(msgspec.Struct):
    cvssMetricV31: list[Metric] = msgspec.field(default_factory=list)
    cvssMetricV30: list[Metric] = msgspec.field(default_factory=list)
    cvssMetricV2: list[Metric] = msgspec.field(default_factory=list)


class Description(msgspec.Struct):
    value: str
    lang: str = "en"


class Cve(msgspec.Struct):
    id: str
    published: str | None = None
    lastModified: str | None = None
    vulnStatus: str | None = None
    descriptions: list[Description] = msgspec.field(default_factory=list)
    metrics: Metrics = msgspec.field(default_factory=Metrics)
    configurations: list[Configuration] = msgspec.field(default_factory=list)


class Item(msgspec.Struct):
    cve: Cve


class CveFeed(msgspec.Struct):
    vulnerabilities: list[Item] = msgspec.field(default_factory=list)


_DECODER = msgspec.json.Decoder(CveFeed)

YEARLY_PREFIX = "nvdcve-2.0-"
MODIFIED_NAME = "nvdcve-2.0-modified.json.gz"
FIRST_YEAR = 2002


def yearly_name(year: int) -> str:
    return f"{YEARLY_PREFIX}{year}.json.gz"


def meta_name(feed_name: str) -> str:
    """``nvdcve-2.0-2021.json.gz`` -> ``nvdcve-2.0-2021.meta``, as NVD names them."""
    return feed_name.removesuffix(".json.gz") + ".meta"


def read_feed(path: Path) -> list[Item]:
    """The CVE items of one feed file.

    Raises:
        ValueError: not a gzip file of NVD's CVE JSON 2.0 shape.
    """
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
        return _DECODER.decode(raw).vulnerabilities
    except (OSError, EOFError, msgspec.DecodeError) as exc:
        raise ValueError(f"{path.name}: not an NVD CVE JSON 2.0 feed ({exc})") from exc


def cvss_score(metrics: Metrics) -> float | None:
    """The v3.1 base score, else v3.0, else v2; NVD's own (Primary) score before a CNA's."""
    for metric_list in (metrics.cvssMetricV31, metrics.cvssMetricV30, metrics.cvssMetricV2):
        scored = [metric for metric in metric_list if metric.cvssData.baseScore is not None]
        if scored:
            primary = [metric for metric in scored if metric.type == "Primary"]
            return (primary or scored)[0].cvssData.baseScore
    return None


def english_description(cve: Cve) -> str:
    for description in cve.descriptions:
        if description.lang == "en":
            return description.value
    return cve.descriptions[0].value if cve.descriptions else ""


def vulnerable_matches(cve: Cve) -> Iterator[CpeMatch]:
    """The cpeMatch entries that say a product is vulnerable (negated nodes say the opposite;
    vulnerable=false entries name the platform a product must run on, not the product)."""
    for configuration in cve.configurations:
        for node in configuration.nodes:
            if node.negate:
                continue
            for match in node.cpeMatch:
                if match.vulnerable:
                    yield match


def parse_meta(text: str) -> dict[str, str]:
    """The ``key:value`` lines of an NVD .meta file (lastModifiedDate, size, gzSize, sha256)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields[key.strip()] = value.strip()
    return fields
