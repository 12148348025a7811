"""The simulated osquery carver: a live query on the ``carves`` table with ``carve = 1`` makes the
host carve a generated file and upload it through carve/begin and carve/block (§5).

The file's size comes from its path: a last path component ending in a number with an optional
unit (``/tmp/sim-carve-10MiB``, ``/var/log/big-1GiB``, ``/tmp/x-4096``) is that many bytes; any
other path is ``SimOptions.carve_default_size``. Its bytes are pseudo-random, generated from the
seed, the host and the path in 1 MiB chunks, so any block can be made on its own (a 1 GiB carve
never sits in the simulator's memory) and a test can recompute the file's sha256.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from fleet_osquery.sim.templates import tables_in

CHUNK = 1024 * 1024
_SHIFTS = 4093
_CARVE_ON = re.compile(r"\bcarve\s*=\s*1\b", re.IGNORECASE)
_PATH = re.compile(r"\bpath\s*(?:=|==|\s+like\s+)\s*'([^']*)'", re.IGNORECASE)
_SIZE = re.compile(r"(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1024**3, "gib": 1024**3}


@dataclass(frozen=True, slots=True)
class CarveJob:
    """One file to carve: what osquery's carves table scheduled."""

    request_id: str  # the distributed query's name, as osquery sends it
    carve_guid: str
    path: str
    size: int


def carve_path(sql: str) -> str | None:
    """The path a ``SELECT * FROM carves WHERE carve = 1 AND path = '...'`` query asks for, or None."""
    if "carves" not in tables_in(sql) or not _CARVE_ON.search(sql):
        return None
    match = _PATH.search(sql)
    return match.group(1) if match else None


def file_size(path: str, default: int) -> int:
    """The generated file's size by the path convention (at least 1 byte)."""
    match = _SIZE.search(path.rstrip("/").rsplit("/", 1)[-1])
    if match is None:
        return max(1, default)
    return max(1, int(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


@functools.lru_cache(maxsize=16)
def _pool(seed: int, host_identifier: str, path: str) -> bytes:
    """Random bytes a file's chunks are cut from: made once per file, so carving costs a copy per
    byte rather than a random number (the benchmark's agent shares the machine with the server)."""
    return random.Random(f"{seed}:{host_identifier}:{path}").randbytes(CHUNK + _SHIFTS)


def _chunk(seed: int, host_identifier: str, path: str, index: int, length: int) -> bytes:
    """Chunk ``index``: its number, then pool bytes from an offset that depends on it, so no two
    chunks of a file are alike."""
    offset = (index * 2654435761) % _SHIFTS
    head = index.to_bytes(8, "big")
    return (head + _pool(seed, host_identifier, path)[offset:offset + length - len(head)])[:length]


def file_bytes(seed: int, host_identifier: str, path: str, size: int, start: int, end: int) -> bytes:
    """Bytes ``start:end`` of the generated file of that size."""
    end = min(end, size)
    out = bytearray()
    position = start
    while position < end:
        index, offset = divmod(position, CHUNK)
        length = min(CHUNK, size - index * CHUNK)
        take = min(end - position, length - offset)
        chunk = _chunk(seed, host_identifier, path, index, length)
        out += chunk[offset:offset + take]
        position += take
    return bytes(out)


def blocks(seed: int, host_identifier: str, path: str, size: int, block_size: int) -> Iterator[bytes]:
    """The file in ``block_size`` pieces, made one at a time."""
    for start in range(0, size, block_size):
        yield file_bytes(seed, host_identifier, path, size, start, start + block_size)


def file_sha256(seed: int, host_identifier: str, path: str, size: int) -> str:
    digest = hashlib.sha256()
    for piece in blocks(seed, host_identifier, path, size, CHUNK):
        digest.update(piece)
    return digest.hexdigest()
