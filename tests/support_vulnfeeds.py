"""Small vulnerability feeds written in their publishers' exact formats, and a local HTTP server
that serves them as the publishers do (ETag / Last-Modified -> 304, Range -> 206, NVD's .meta
files with the sha256 of the uncompressed JSON).

The shapes follow what the publishers serve today:
- NVD CVE JSON 2.0 feeds ``nvdcve-2.0-<year>.json.gz`` / ``nvdcve-2.0-modified.json.gz``:
  {"resultsPerPage", "startIndex", "totalResults", "format": "NVD_CVE", "version": "2.0",
  "timestamp", "vulnerabilities": [{"cve": {...}}]} and ``nvdcve-2.0-<year>.meta``
  (lastModifiedDate, size, zipSize, gzSize, sha256 lines);
- NVD CPE dictionary 2.0 ``nvdcpe-2.0.tar.gz`` of ``nvdcpe-2.0-chunks/nvdcpe-2.0-chunk-NNNNN.json``;
- FIRST ``epss_scores-current.csv.gz``; CISA ``known_exploited_vulnerabilities.json``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import tarfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import msgspec

TIMESTAMP = "2026-12-04T03:00:01.123"


def cpe_match(
    criteria: str,
    *,
    vulnerable: bool = True,
    start_including: str | None = None,
    start_excluding: str | None = None,
    end_including: str | None = None,
    end_excluding: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"vulnerable": vulnerable, "criteria": criteria}
    for key, value in (("versionStartIncluding", start_including), ("versionStartExcluding", start_excluding),
                       ("versionEndIncluding", end_including), ("versionEndExcluding", end_excluding)):
        if value is not None:
            entry[key] = value
    entry["matchCriteriaId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, repr(sorted(entry.items())))).upper()
    return entry


def _metric(version: str, score: float, kind: str = "Primary") -> dict[str, Any]:
    return {
        "source": "nvd@nist.gov",
        "type": kind,
        "cvssData": {"version": version, "vectorString": f"CVSS:{version}/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                     "baseScore": score, "baseSeverity": "CRITICAL" if score >= 9 else "HIGH"},
        "exploitabilityScore": 3.9,
        "impactScore": 5.9,
    }


def cve_item(
    cve_id: str,
    *,
    published: str,
    description: str,
    matches: Sequence[dict[str, Any]] = (),
    platforms: Sequence[dict[str, Any]] = (),
    cvss31: float | None = None,
    cvss30: float | None = None,
    cvss2: float | None = None,
    status: str = "Analyzed",
) -> dict[str, Any]:
    """One entry of a feed's "vulnerabilities" list. ``platforms`` (vulnerable=false entries)
    go in a second node under an AND configuration, as NVD writes "X running on Y"."""
    metrics: dict[str, Any] = {}
    if cvss31 is not None:
        metrics["cvssMetricV31"] = [_metric("3.1", cvss31)]
    if cvss30 is not None:
        metrics["cvssMetricV30"] = [_metric("3.0", cvss30)]
    if cvss2 is not None:
        metrics["cvssMetricV2"] = [{"source": "nvd@nist.gov", "type": "Primary",
                                    "cvssData": {"version": "2.0", "baseScore": cvss2}}]
    configuration: dict[str, Any] = {"nodes": [{"operator": "OR", "negate": False, "cpeMatch": list(matches)}]}
    if platforms:
        configuration["operator"] = "AND"
        configuration["nodes"].append({"operator": "OR", "negate": False, "cpeMatch": list(platforms)})
    return {
        "cve": {
            "id": cve_id,
            "sourceIdentifier": "cve@mitre.org",
            "published": published,
            "lastModified": TIMESTAMP,
            "vulnStatus": status,
            "descriptions": [{"lang": "en", "value": description}, {"lang": "es", "value": "(es) " + description}],
            "metrics": metrics,
            "weaknesses": [{"source": "nvd@nist.gov", "type": "Primary",
                            "description": [{"lang": "en", "value": "CWE-120"}]}],
            "configurations": [configuration] if matches else [],
            "references": [{"url": f"https://example.org/{cve_id}", "source": "cve@mitre.org"}],
        }
    }


def cve_feed_json(items: Sequence[dict[str, Any]]) -> bytes:
    return msgspec.json.encode({
        "resultsPerPage": len(items),
        "startIndex": 0,
        "totalResults": len(items),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": TIMESTAMP,
        "vulnerabilities": list(items),
    })


def gzipped(content: bytes, level: int = 6) -> bytes:
    return gzip.compress(content, compresslevel=level, mtime=0)


def meta_text(uncompressed: bytes, compressed: bytes) -> bytes:
    """An NVD .meta file: CRLF lines, sha256 of the uncompressed JSON in upper case hex."""
    return (
        f"lastModifiedDate:2026-12-04T03:00:01-05:00\r\nsize:{len(uncompressed)}\r\n"
        f"zipSize:{len(compressed)}\r\ngzSize:{len(compressed)}\r\n"
        f"sha256:{hashlib.sha256(uncompressed).hexdigest().upper()}\r\n"
    ).encode()


def cpe_product(cpe_name: str, title: str) -> dict[str, Any]:
    return {"cpe": {
        "deprecated": False,
        "cpeName": cpe_name,
        "cpeNameId": str(uuid.uuid5(uuid.NAMESPACE_URL, cpe_name)).upper(),
        "lastModified": TIMESTAMP,
        "created": "2007-08-23T21:05:57.937",
        "titles": [{"title": title, "lang": "en"}],
        "refs": [{"ref": "https://example.org/", "type": "Vendor"}],
    }}


def cpe_dictionary_tar(products: Iterable[dict[str, Any]], *, chunk_size: int = 10_000, level: int = 6) -> bytes:
    """``nvdcpe-2.0.tar.gz``: chunk files of ``chunk_size`` products each."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=level, mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as archive:
        for number, chunk in enumerate(_chunks(products, chunk_size), start=1):
            body = msgspec.json.encode({
                "resultsPerPage": len(chunk), "startIndex": (number - 1) * chunk_size,
                "totalResults": len(chunk), "format": "NVD_CPE", "version": "2.0",
                "timestamp": TIMESTAMP, "products": chunk,
            })
            info = tarfile.TarInfo(f"nvdcpe-2.0-chunks/nvdcpe-2.0-chunk-{number:05d}.json")
            info.size = len(body)
            info.mtime = 1_764_820_801
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def epss_csv_gz(scores: Iterable[tuple[str, float, float]]) -> bytes:
    lines = ["#model_version:v2025.03.14,score_date:2026-12-04T12:55:00Z", "cve,epss,percentile"]
    lines += [f"{cve},{epss:.9f},{percentile:.9f}" for cve, epss, percentile in scores]
    return gzipped(("\n".join(lines) + "\n").encode())


def kev_json(cves: Iterable[str]) -> bytes:
    listed = [{
        "cveID": cve, "vendorProject": "Example", "product": "Example", "vulnerabilityName": f"{cve} flaw",
        "dateAdded": "2022-03-28", "shortDescription": "An example.", "requiredAction": "Apply updates.",
        "dueDate": "2022-04-18", "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": ["CWE-120"],
    } for cve in cves]
    return msgspec.json.encode({
        "title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2026.12.04",
        "dateReleased": "2026-12-04T17:00:00.000Z", "count": len(listed), "vulnerabilities": listed,
    })


# ---------------------------------------------------------------------------------------------
# The sample feed the tests use
# ---------------------------------------------------------------------------------------------

OPENSSL = "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*"
SAMPLE_YEAR = 2023  # the tests' "today": yearly feeds 2002..2023

SAMPLE_CVES: dict[int, list[dict[str, Any]]] = {
    2021: [
        cve_item(
            "CVE-2021-3711", published="2021-08-24T15:15:09.133", cvss31=9.8, cvss2=7.5,
            description="In order to decrypt SM2 encrypted data an application is expected to call the API "
                        "function EVP_PKEY_decrypt(). A buffer overflow follows (openssl 1.1.1-1.1.1k).",
            matches=[cpe_match(OPENSSL, start_including="1.1.1", end_excluding="1.1.1l")],
        ),
        cve_item(
            "CVE-2021-23337", published="2021-02-15T13:15:12.560", cvss31=7.2, cvss2=6.5,
            description="Lodash versions prior to 4.17.21 are vulnerable to Command Injection via template.",
            matches=[cpe_match("cpe:2.3:a:lodash:lodash:*:*:*:*:*:node.js:*:*", end_excluding="4.17.21")],
        ),
    ],
    2022: [
        cve_item(
            "CVE-2022-0778", published="2022-03-15T17:15:08.513", cvss31=7.5, cvss2=5.0,
            description="The BN_mod_sqrt() function can loop forever (yearly feed text).",
            matches=[
                cpe_match(OPENSSL, start_including="1.0.2", end_excluding="1.0.2zd"),
                cpe_match(OPENSSL, start_including="1.1.1", end_excluding="1.1.1n"),
                cpe_match(OPENSSL, start_including="3.0.0", end_excluding="3.0.2"),
            ],
            platforms=[cpe_match("cpe:2.3:o:debian:debian_linux:10.0:*:*:*:*:*:*:*", vulnerable=False)],
        ),
        cve_item(
            "CVE-2022-1000", published="2022-05-01T10:00:00.000", cvss30=6.1,
            description="A made-up firefox flaw after 100.0 up to and including 102.0.",
            matches=[cpe_match("cpe:2.3:a:mozilla:firefox:*:*:*:*:*:*:*:*",
                               start_excluding="100.0", end_including="102.0")],
        ),
        cve_item(
            "CVE-2022-1001", published="2022-05-02T10:00:00.000", cvss2=4.3,
            description="A made-up git flaw in exactly 2.30.0.",
            matches=[cpe_match("cpe:2.3:a:git-scm:git:2.30.0:*:*:*:*:*:*:*")],
        ),
        cve_item(
            "CVE-2022-1002", published="2022-05-03T10:00:00.000", cvss31=5.0, status="Rejected",
            description="** REJECT ** Not a vulnerability.",
            matches=[cpe_match(OPENSSL)],
        ),
    ],
    2023: [
        cve_item(
            "CVE-2023-30861", published="2023-05-02T18:15:52.433", cvss31=7.5,
            description="Flask may cache a response with a permanent session cookie.",
            matches=[cpe_match("cpe:2.3:a:palletsprojects:flask:*:*:*:*:*:python:*:*",
                               start_including="2.3.0", end_excluding="2.3.2"),
                     cpe_match("cpe:2.3:a:palletsprojects:flask:*:*:*:*:*:python:*:*", end_excluding="2.2.5")],
        ),
    ],
}
# The modified feed carries newer copies of some CVEs; they override the yearly ones.
SAMPLE_MODIFIED: list[dict[str, Any]] = [
    cve_item(
        "CVE-2022-0778", published="2022-03-15T17:15:08.513", cvss31=7.5, cvss2=5.0,
        description="The BN_mod_sqrt() function can loop forever (modified feed text).",
        matches=[cpe_match(OPENSSL, start_including="1.1.1", end_excluding="1.1.1n")],
    ),
]
SAMPLE_DICTIONARY = [
    ("cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*", "OpenSSL 1.1.1k"),
    ("cpe:2.3:a:openssl:openssl:1.1.1l:*:*:*:*:*:*:*", "OpenSSL 1.1.1l"),
    ("cpe:2.3:a:google:chrome:108.0.5359.124:*:*:*:*:*:*:*", "Google Chrome 108.0.5359.124"),
    ("cpe:2.3:a:mozilla:firefox:101.0:*:*:*:*:*:*:*", "Mozilla Firefox 101.0"),
    ("cpe:2.3:a:lodash:lodash:4.17.20:*:*:*:*:node.js:*:*", "lodash 4.17.20 for Node.js"),
    ("cpe:2.3:a:palletsprojects:flask:2.2.4:*:*:*:*:python:*:*", "Pallets Flask 2.2.4 for Python"),
    ("cpe:2.3:a:ublock_origin_project:ublock_origin:1.44.0:*:*:*:*:chrome:*:*", "uBlock Origin for Chrome"),
    ("cpe:2.3:a:git-scm:git:2.30.0:*:*:*:*:*:*:*", "Git 2.30.0"),
    # Two vendors publish a "notes": nothing about a bare "notes" says which.
    ("cpe:2.3:a:acme:notes:1.0:*:*:*:*:*:*:*", "Acme Notes"),
    ("cpe:2.3:a:globex:notes:1.0:*:*:*:*:*:*:*", "Globex Notes"),
    ("cpe:2.3:o:debian:debian_linux:10.0:*:*:*:*:*:*:*", "Debian Linux 10.0"),
]
SAMPLE_EPSS = [("CVE-2021-3711", 0.01234, 0.81), ("CVE-2022-0778", 0.05, 0.93)]
SAMPLE_KEV = ["CVE-2021-3711"]


def sample_files(
    today_year: int = SAMPLE_YEAR, *, modified: Sequence[dict[str, Any]] | None = None
) -> dict[str, bytes]:
    """Every file the engine downloads, by its publisher's name (the CVE feeds with their .meta)."""
    files: dict[str, bytes] = {}
    for year in range(2002, today_year + 1):
        add_cve_feed(files, f"nvdcve-2.0-{year}", SAMPLE_CVES.get(year, []))
    add_cve_feed(files, "nvdcve-2.0-modified", SAMPLE_MODIFIED if modified is None else modified)
    files["nvdcpe-2.0.tar.gz"] = cpe_dictionary_tar(cpe_product(name, title) for name, title in SAMPLE_DICTIONARY)
    files["epss_scores-current.csv.gz"] = epss_csv_gz(SAMPLE_EPSS)
    files["known_exploited_vulnerabilities.json"] = kev_json(SAMPLE_KEV)
    return files


def add_cve_feed(files: dict[str, bytes], stem: str, items: Sequence[dict[str, Any]]) -> None:
    raw = cve_feed_json(items)
    compressed = gzipped(raw)
    files[f"{stem}.json.gz"] = compressed
    files[f"{stem}.meta"] = meta_text(raw, compressed)


def write_files(directory: Path, files: dict[str, bytes]) -> None:
    """Drop the files in as an operator would (disable_data_sync)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_bytes(content)


# ---------------------------------------------------------------------------------------------
# The local server
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class Seen:
    path: str
    headers: dict[str, str]
    status: int


@attrs.define
class FeedServer:
    """Serves ``files`` under /feeds/ the way a static file server (NVD's Akamai, S3) does."""

    files: dict[str, bytes]
    requests: list[Seen] = attrs.field(factory=list)
    # name -> bytes to send before dropping the connection, once.
    cut_after: dict[str, int] = attrs.field(factory=dict)
    # Names sent with Content-Encoding: gzip whatever the client asked (some CDNs do).
    gzip_transfer: set[str] = attrs.field(factory=set)
    last_modified: dt.datetime = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/feeds/"

    def etag(self, name: str) -> str:
        return '"' + hashlib.sha256(self.files[name]).hexdigest()[:20] + '"'

    def replace(self, name: str, content: bytes) -> None:
        with self._lock:
            self.files[name] = content
        self.last_modified += dt.timedelta(hours=1)

    def seen(self, name: str) -> list[Seen]:
        return [request for request in self.requests if request.path == "/feeds/" + name]

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                status = owner._answer(self)
                owner.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, status))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> int:
        name = handler.path.removeprefix("/feeds/")
        with self._lock:
            content = self.files.get(name)
        if not handler.path.startswith("/feeds/") or content is None:
            return _send(handler, 404, b"not found")
        etag = self.etag(name)
        last_modified = format_datetime(self.last_modified, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": last_modified}
        if handler.headers.get("If-None-Match") == etag or (
            handler.headers.get("If-None-Match") is None and handler.headers.get("If-Modified-Since") == last_modified
        ):
            return _send(handler, 304, b"", validators)
        start = 0
        requested = handler.headers.get("Range", "")
        if_range = handler.headers.get("If-Range")
        if requested.startswith("bytes=") and requested.endswith("-") and if_range in (None, etag, last_modified):
            start = int(requested[len("bytes="):-1])
        if start >= len(content):
            start = 0
        body = content[start:]
        headers = dict(validators)
        status = 200
        if start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        if name in self.gzip_transfer and not start:
            headers["Content-Encoding"] = "gzip"
            body = gzipped(body)
        cut = self.cut_after.pop(name, None)
        if cut is not None:
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[:cut])
            handler.wfile.flush()
            handler.close_connection = True
            return status
        return _send(handler, status, body, headers)


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> int:
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Accept-Ranges", "bytes")
    if status != 304:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if status != 304:
        handler.wfile.write(body)
    return status
