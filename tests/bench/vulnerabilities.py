"""`make bench-vulns`: the vulnerability feed engine at NVD's size, written up in docs/performance.md.

Generates, in a temporary directory, feed files in the publishers' formats (tests/support_vulnfeeds.py)
the size of NVD today: 250,000 CVEs in yearly files 2002..this year plus a modified feed, about a
million cpeMatch entries, a CPE dictionary of a million products, EPSS scores and CISA's catalogue.
Then, each in a fresh process pinned to one CPU, it runs what the vulnerability job asks of the
engine over 20,000 distinct software rows -- load, cpe_for, matches, meta -- twice:

- full: no index cache, every feed file parsed (what the first run after a download costs);
- unchanged: the same files again in a new process (the index comes from its cache file).

Each child reports wall time, CPU time (user+system) and peak RSS (getrusage ru_maxrss). It is a
benchmark, not a test: it never fails on a target. It rewrites the "Vulnerability detection"
section of docs/performance.md (only that section).

    .venv/bin/python tests/bench/vulnerabilities.py              # full size
    .venv/bin/python tests/bench/vulnerabilities.py --scale 0.02 # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import support_vulnfeeds as feeds  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
HEADING = "## Vulnerability detection"
RESULTS_MARKER = "<!-- bench:results (everything below is written by tests/bench/run.py) -->"
SEED = 12


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 40)}"


class Universe:
    """The products of the generated world: product i is ``pkg<i>`` by ``vendor<i // 3>``; one
    product in twenty shares its name with another vendor's; ecosystem products carry a target_sw."""

    def __init__(self, products: int) -> None:
        self.products = products

    def vendor(self, i: int) -> str:
        return f"vendor{i // 3}"

    def product(self, i: int) -> str:
        return f"pkg{i}"

    def target(self, i: int) -> str:
        kind = i % 10
        return {7: "python", 8: "node.js", 9: "chrome"}.get(kind, "*")


def _as_heavy_as_nvd(item: dict[str, Any], rng: random.Random) -> None:
    """What NVD's items carry besides what the engine reads: references with tags, a CNA's
    secondary CVSS, CVSS 4.0, so that the parser skips as many bytes as on NVD's files."""
    cve = item["cve"]
    cve["references"] = [
        {"url": f"https://vendor{n}.example.com/security/advisories/{cve['id'].lower()}-{n}.html",
         "source": "cve@mitre.org", "tags": ["Vendor Advisory", "Patch", "Third Party Advisory"][: 1 + n % 3]}
        for n in range(rng.randint(3, 14))
    ]
    metrics = cve["metrics"]
    secondary = {
        "source": "security@vendor.example.com", "type": "Secondary",
        "cvssData": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                     "baseScore": 8.8, "baseSeverity": "HIGH", "attackVector": "NETWORK",
                     "attackComplexity": "LOW", "privilegesRequired": "NONE", "userInteraction": "REQUIRED",
                     "scope": "UNCHANGED", "confidentialityImpact": "HIGH", "integrityImpact": "HIGH",
                     "availabilityImpact": "HIGH"},
        "exploitabilityScore": 2.8, "impactScore": 5.9,
    }
    metrics.setdefault("cvssMetricV31", []).append(secondary)
    if rng.random() < 0.3:
        metrics["cvssMetricV40"] = [{
            "source": "security@vendor.example.com", "type": "Secondary",
            "cvssData": {"version": "4.0", "baseScore": 8.7, "baseSeverity": "HIGH",
                         "vectorString": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
        }]


def _criterion(universe: Universe, i: int, rng: random.Random) -> dict[str, Any]:
    target = universe.target(i)
    criteria = f"cpe:2.3:a:{universe.vendor(i)}:{universe.product(i)}:*:*:*:*:*:{target}:*:*"
    low, high = sorted([_version(rng), _version(rng)], key=lambda v: tuple(map(int, v.split("."))))
    shape = rng.random()
    if shape < 0.55:
        return feeds.cpe_match(criteria, start_including=low, end_excluding=high)
    if shape < 0.8:
        return feeds.cpe_match(criteria, end_excluding=high)
    if shape < 0.9:
        return feeds.cpe_match(criteria, start_excluding=low, end_including=high)
    fixed = f"cpe:2.3:a:{universe.vendor(i)}:{universe.product(i)}:{low}:*:*:*:*:{target}:*:*"
    return feeds.cpe_match(fixed)


def generate(directory: Path, scale: float) -> dict[str, Any]:
    rng = random.Random(SEED)
    cves = int(250_000 * scale)
    products = max(100, int(100_000 * scale))
    universe = Universe(products)
    directory.mkdir(parents=True, exist_ok=True)
    this_year = dt.datetime.now(dt.UTC).year
    years = list(range(2002, this_year + 1))
    weights = [1 + (year - 2002) ** 1.5 for year in years]
    per_year = Counter(rng.choices(years, weights, k=cves))
    matches_written = 0
    # Popular products get many CVEs, as in NVD (a few kernels and browsers carry thousands).
    popular = [int(products * rng.paretovariate(1.2)) % products for _ in range(products)]
    modified: list[dict[str, Any]] = []
    all_ids: list[str] = []
    files: dict[str, bytes] = {}
    number = 0
    for year in years:  # one year in memory at a time
        items = []
        for serial in range(1, per_year[year] + 1):
            number += 1
            cve_id = f"CVE-{year}-{serial:04d}"
            matches = [_criterion(universe, popular[rng.randrange(products)], rng)
                       for _ in range(min(16, 1 + int(rng.expovariate(1 / 3.5))))]
            matches_written += len(matches)
            item = feeds.cve_item(
                cve_id, published=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:15:00.000",
                description=f"Generated vulnerability {number} in {len(matches)} products. "
                + "x" * rng.randint(80, 400),
                matches=matches, cvss31=round(rng.uniform(1, 10), 1) if rng.random() < 0.8 else None,
                cvss2=round(rng.uniform(1, 10), 1),
            )
            _as_heavy_as_nvd(item, rng)
            items.append(item)
            all_ids.append(cve_id)
            if rng.random() < 0.01:
                modified.append(item)
        raw = feeds.cve_feed_json(items)
        compressed = feeds.gzipped(raw, level=1)
        (directory / f"nvdcve-2.0-{year}.json.gz").write_bytes(compressed)
        (directory / f"nvdcve-2.0-{year}.meta").write_bytes(feeds.meta_text(raw, compressed))
        del raw, compressed, items
    feeds.add_cve_feed(files, "nvdcve-2.0-modified", modified)
    dictionary_entries = int(1_000_000 * scale)
    per_product = max(1, dictionary_entries // products)

    def dictionary() -> Any:
        written = 0
        for i in range(products):
            for v in range(per_product):
                written += 1
                target = universe.target(i)
                yield feeds.cpe_product(
                    f"cpe:2.3:a:{universe.vendor(i)}:{universe.product(i)}:{v}.0.{i % 7}:*:*:*:*:{target}:*:*",
                    f"Pkg{i} {v}")
            if i % 20 == 0:  # the same product name from another vendor
                yield feeds.cpe_product(f"cpe:2.3:a:othervendor{i}:{universe.product(i)}:1.0:*:*:*:*:*:*:*", "Other")

    files["nvdcpe-2.0.tar.gz"] = feeds.cpe_dictionary_tar(dictionary(), level=1)
    files["epss_scores-current.csv.gz"] = feeds.epss_csv_gz(
        (cve, rng.random() / 10, rng.random()) for cve in all_ids)
    files["known_exploited_vulnerabilities.json"] = feeds.kev_json(rng.sample(all_ids, min(1200, len(all_ids))))
    feeds.write_files(directory, files)
    rows = software_rows(universe, int(20_000 * max(scale, 0.05)), rng)
    (directory.parent / "software.json").write_text(json.dumps(rows))
    return {"cves": cves, "cpe_matches": matches_written, "dictionary": products * per_product + (products + 19) // 20,
            "software": len(rows), "bytes": sum(p.stat().st_size for p in directory.iterdir())}


def software_rows(universe: Universe, count: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for number in range(count):
        i = rng.randrange(universe.products)
        version = _version(rng)
        target = universe.target(i)
        source = {"python": "python_packages", "node.js": "npm_packages", "chrome": "chrome_extensions"}.get(target)
        if source is None:
            source = rng.choice(["deb_packages", "rpm_packages", "programs", "apps", "homebrew_packages"])
        name = universe.product(i)
        row: dict[str, Any] = {"id": number + 1, "name": name, "version": version, "source": source}
        if source == "programs":
            row["name"] = f"{universe.vendor(i).title()} {name.title()} ({rng.choice(['x64', '64-bit'])})"
            row["vendor"] = f"{universe.vendor(i).title()} Inc."
        elif source == "apps":
            row["name"] = f"{name.title()}.app"
            row["bundle_identifier"] = f"com.{universe.vendor(i)}.{name}"
        elif source == "deb_packages":
            row["version"] = f"{version}-{rng.randint(1, 5)}ubuntu{rng.randint(0, 3)}"
        elif source == "rpm_packages":
            row["version"] = f"{rng.choice(['', '1:'])}{version}-{rng.randint(1, 9)}.el9"
        if rng.random() < 0.25:  # software NVD has never heard of
            row["name"] = f"inhouse-tool-{number}"
        rows.append(row)
    return rows


def run_child(directory: Path, phase: str) -> dict[str, Any]:
    """One measured run (in this process, which the parent started for it)."""
    from fleet_adapters.vulnerabilities import NvdVulnerabilityFeed
    from fleet_core.model.vulnerabilities import SoftwareToMatch

    with contextlib.suppress(OSError, AttributeError):  # pin to one CPU where the OS allows
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    rows = [SoftwareToMatch(**row) for row in json.loads((directory.parent / "software.json").read_text())]
    started = time.perf_counter()
    feed = NvdVulnerabilityFeed(directory, disable_data_sync=True)
    loaded = asyncio.run(feed.load())
    load_seconds = time.perf_counter() - started
    with_cpe = vulnerable = found = 0
    cves: set[str] = set()
    for row in rows:
        cpe = loaded.cpe_for(row)
        if not cpe:
            continue
        with_cpe += 1
        matches = loaded.matches(cpe, row.version)
        if matches:
            vulnerable += 1
            found += len(matches)
            cves.update(match.cve for match in matches)
    meta = loaded.meta(cves)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "phase": phase, "wall_seconds": round(wall, 2), "load_seconds": round(load_seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "software": len(rows), "with_cpe": with_cpe, "vulnerable_software": vulnerable, "matches": found,
        "distinct_cves": len(meta), "index_cves": loaded.cve_count, "index_criteria": loaded.criteria_count,
    }


def measure(directory: Path, phase: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(directory), "--phase", phase],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_section(generated: dict[str, Any], runs: list[dict[str, Any]], scale: float) -> None:
    full, unchanged = runs
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        HEADING,
        "",
        f"`make bench-vulns` (tests/bench/vulnerabilities.py) generates feed files in the publishers' formats "
        f"(scale {scale}): {generated['cves']:,} CVEs in yearly NVD JSON 2.0 files plus a modified feed, "
        f"{generated['cpe_matches']:,} cpeMatch entries, a CPE dictionary of {generated['dictionary']:,} products, "
        f"EPSS scores and CISA's catalogue ({generated['bytes'] / 2**20:,.0f} MiB compressed), and "
        f"{generated['software']:,} distinct software rows across the sources (a quarter unknown to NVD). "
        "Each run is a fresh process pinned to one CPU doing what the vulnerability job asks of the engine: "
        "load the index, `cpe_for` and `matches` for every row, `meta` for every CVE found. "
        "The feed engine only; the software ingestion and the job's writes are measured with the inventory. "
        "The generated CVE items carry the fields the engine reads plus one reference and one weakness; "
        "NVD's own items are larger (more references, CVSS 4.0 and CNA metrics), and parsing time grows with "
        "the bytes msgspec skips, so expect the full run on NVD's real files to take longer than here.",
        "",
        f"Run of {when} on this machine ({os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}):",
        "",
        "| run | wall | of which load | CPU | peak RSS | rows with a CPE | vulnerable rows | matches | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    targets = {"full": "< 5 min, < 1.5 GiB", "unchanged": "< 30 s"}
    names = {"full": "full (feeds parsed, index cached)", "unchanged": "unchanged re-run (new process, cached index)"}
    for run in (full, unchanged):
        lines.append(
            f"| {names[run['phase']]} | {run['wall_seconds']} s | {run['load_seconds']} s | {run['cpu_seconds']} s "
            f"| {run['peak_rss_mib']} MiB | {run['with_cpe']:,} | {run['vulnerable_software']:,} | {run['matches']:,} "
            f"| {targets[run['phase']]} |"
        )
    lines += [
        "",
        f"The index held {full['index_cves']:,} CVEs and {full['index_criteria']:,} criteria. The unchanged "
        "re-run's peak is the cache file read whole and decoded; within one process a `load()` over unchanged "
        "files returns the index already in memory (no I/O beyond a stat of each file).",
        "",
    ]
    section = "\n".join(line if line.startswith("|") else textwrap.fill(line, 100) for line in lines)
    text = DOC.read_text()
    if HEADING in text:
        start = text.index(HEADING)
        rest = text[start + len(HEADING):]
        ends = [pos for pos in (rest.find("\n## "), rest.find("\n" + RESULTS_MARKER)) if pos >= 0]
        end = start + len(HEADING) + (min(ends) + 1 if ends else len(rest))
        text = text[:start] + section + "\n" + text[end:].lstrip("\n")
    elif RESULTS_MARKER in text:
        text = text.replace(RESULTS_MARKER, section + "\n" + RESULTS_MARKER, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of NVD's size (1.0: full)")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory instead of a temp one")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave docs/performance.md alone")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.phase)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-vulns-") as temporary:
        base = args.keep or Path(temporary)
        directory = base / "vulndb"
        started = time.perf_counter()
        generated = generate(directory, args.scale)
        print(f"generated in {time.perf_counter() - started:.0f} s: {generated}", flush=True)
        for stale in directory.glob(".fleet-vuln-index-*"):
            stale.unlink()
        runs = [measure(directory, "full"), measure(directory, "unchanged")]
        for run in runs:
            print(json.dumps(run), flush=True)
    if not args.no_write:
        write_section(generated, runs, args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
