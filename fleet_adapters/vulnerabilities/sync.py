"""Downloading the feed files into the databases path.

Every file is fetched with the validators of the copy already there (If-None-Match /
If-Modified-Since; 304 keeps it), into ``<name>.part`` next to it; an interrupted download is
resumed from where it stopped (Range + If-Range, so a file that changed meanwhile restarts). A
finished download is checked (the sha256 of the uncompressed JSON against NVD's ``.meta`` for the
CVE feeds; that gzip, tar and JSON files read to the end for the others), fsynced and renamed over
the old file, so a reader sees the old file or the new one, never half of one. A failed or
rejected download leaves the previous file in place.

What the server said about each file (ETag, Last-Modified, the size and mtime we stored it with)
is kept in ``.fleet-sync-state.json`` in the same directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import attrs
import httpx
import structlog

from fleet_adapters.vulnerabilities import nvd
from fleet_adapters.vulnerabilities.index import fsync_directory, write_atomically

log = structlog.get_logger(__name__)

STATE_NAME = ".fleet-sync-state.json"
_CHUNK = 1 << 20


class DownloadFailed(Exception):
    """One file could not be brought up to date (its previous copy is untouched)."""


@attrs.frozen
class Download:
    """One file to keep up to date: where it comes from, its name in the databases path, and
    the URL of the NVD ``.meta`` file whose sha256 it must match (None: no checksum published)."""

    url: str
    name: str
    meta_url: str | None = None


class SyncState:
    """The validators and stored size/mtime of each file, written to disk after every change
    (in a worker thread, one write at a time: the event loop serves agents meanwhile)."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / STATE_NAME
        try:
            loaded = json.loads(self._path.read_text())
        except (OSError, ValueError):
            loaded = {}
        self._entries: dict[str, dict[str, Any]] = loaded if isinstance(loaded, dict) else {}
        self._write_lock = asyncio.Lock()

    def get(self, name: str) -> dict[str, Any]:
        entry = self._entries.get(name)
        return entry if isinstance(entry, dict) else {}

    async def put(self, name: str, entry: dict[str, Any] | None) -> None:
        if entry is None:
            self._entries.pop(name, None)
        else:
            self._entries[name] = entry
        async with self._write_lock:
            content = json.dumps(self._entries, indent=1, sort_keys=True).encode()
            await asyncio.to_thread(write_atomically, self._path, content)


def _validators(response: httpx.Response) -> dict[str, Any]:
    return {
        "etag": response.headers.get("etag"),
        "last_modified": response.headers.get("last-modified"),
    }


def _stored_unchanged(path: Path, entry: dict[str, Any]) -> bool:
    """The file is the one we stored (an operator may have replaced it by hand)."""
    try:
        stat = path.stat()
    except OSError:
        return False
    return entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns


async def fetch_meta(client: httpx.AsyncClient, url: str) -> dict[str, str]:
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        raise DownloadFailed(f"{url}: {exc.__class__.__name__}") from exc
    if response.status_code != 200:
        raise DownloadFailed(f"{url}: HTTP {response.status_code}")
    fields = nvd.parse_meta(response.text)
    if "sha256" not in fields:
        raise DownloadFailed(f"{url}: no sha256 line")
    return fields


async def download(client: httpx.AsyncClient, directory: Path, item: Download, state: SyncState) -> bool:
    """Bring one file up to date; True when it was replaced.

    Raises:
        DownloadFailed: the file could not be fetched or failed its check.
    """
    target = directory / item.name
    meta: dict[str, str] | None = None
    if item.meta_url is not None:
        meta = await fetch_meta(client, item.meta_url)
        stored = state.get(item.name)
        # NVD rewrites its files daily; the .meta's checksum says whether the content changed.
        if stored.get("sha256") == meta["sha256"].lower() and _stored_unchanged(target, stored):
            return False
    part = directory / (item.name + ".part")
    part_entry = state.get(part.name)
    headers = {"Accept-Encoding": "identity"}
    # Resume only what a validator ties to one version of the file (If-Range).
    validator = part_entry.get("etag") or part_entry.get("last_modified")
    offset = part.stat().st_size if validator and part.is_file() else 0
    if offset:
        headers["Range"] = f"bytes={offset}-"
        headers["If-Range"] = str(validator)
    else:
        stored = state.get(item.name)
        if stored and _stored_unchanged(target, stored):
            if stored.get("etag"):
                headers["If-None-Match"] = stored["etag"]
            if stored.get("last_modified"):
                headers["If-Modified-Since"] = stored["last_modified"]
    try:
        async with client.stream("GET", item.url, headers=headers) as response:
            if response.status_code == 304:
                return False
            if response.status_code == 206 and offset and _resumes_at(response, offset):
                mode = "ab"
            elif response.status_code == 200:
                mode, offset = "wb", 0
                await state.put(part.name, _validators(response))
            else:
                if response.status_code == 206:  # not the range asked for: start again next run
                    await _discard(part, state)
                raise DownloadFailed(f"{item.url}: HTTP {response.status_code}")
            # A server that compresses the transfer anyway: store the decoded file, and since a
            # Range would count encoded bytes, do not resume it.
            encoded = response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")
            if encoded:
                await state.put(part.name, None)
            chunks = response.aiter_bytes() if encoded else response.aiter_raw()
            with part.open(mode) as stream:
                # As received: what arrived before a cut is kept for the resume.
                async for chunk in chunks:
                    stream.write(chunk)
                stream.flush()
                await asyncio.to_thread(os.fsync, stream.fileno())
            validators = _validators(response) if mode == "wb" else part_entry
    except httpx.HTTPError as exc:
        # The .part and its validators stay: the next run resumes.
        raise DownloadFailed(f"{item.url}: {exc.__class__.__name__}") from exc
    except OSError as exc:  # the disk, not the server
        raise DownloadFailed(f"{item.name}: {exc.strerror or exc.__class__.__name__}") from exc
    try:
        sha256 = await _check(part, item.name)
    except ValueError as exc:
        await _discard(part, state)
        raise DownloadFailed(f"{item.name}: {exc}") from exc
    if meta is not None and sha256 != meta["sha256"].lower():
        await _discard(part, state)
        raise DownloadFailed(f"{item.name}: sha256 does not match {item.meta_url}")
    await asyncio.to_thread(_replace, part, target)
    stat = target.stat()
    await state.put(part.name, None)
    await state.put(item.name, {
        "etag": validators.get("etag"),
        "last_modified": validators.get("last_modified"),
        "sha256": sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    })
    if meta is not None:
        # The .meta goes next to its feed, as NVD serves both.
        meta_text = "".join(f"{key}:{value}\r\n" for key, value in meta.items()).encode()
        await asyncio.to_thread(write_atomically, directory / nvd.meta_name(item.name), meta_text)
    log.info("vulnerabilities.file_downloaded", file=item.name, bytes=stat.st_size)
    return True


def _replace(part: Path, target: Path) -> None:
    os.replace(part, target)
    fsync_directory(target.parent)


def _resumes_at(response: httpx.Response, offset: int) -> bool:
    content_range: str = response.headers.get("content-range", "")
    return content_range.startswith(f"bytes {offset}-")


async def _discard(part: Path, state: SyncState) -> None:
    with contextlib.suppress(OSError):
        await asyncio.to_thread(part.unlink, missing_ok=True)
    await state.put(part.name, None)


async def _check(path: Path, name: str) -> str:
    return await asyncio.to_thread(check_file, path, name)


def check_file(path: Path, name: str) -> str:
    """Read the downloaded file to its end as what it claims to be; return the sha256 of its
    content (uncompressed for ``.gz``), as NVD's .meta gives it.

    Raises:
        ValueError: truncated or not of its kind.
    """
    digest = hashlib.sha256()
    try:
        if name.endswith(".tar.gz"):
            with tarfile.open(path, mode="r:gz") as archive:
                for member in archive:
                    handle = archive.extractfile(member) if member.isfile() else None
                    if handle is not None:
                        with handle:
                            while block := handle.read(_CHUNK):
                                digest.update(block)
        elif name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                while block := stream.read(_CHUNK):
                    digest.update(block)
        else:
            content = path.read_bytes()
            json.loads(content)
            digest.update(content)
    except (OSError, EOFError, tarfile.TarError, ValueError) as exc:
        raise ValueError(f"unreadable download ({exc.__class__.__name__})") from exc
    return digest.hexdigest()
