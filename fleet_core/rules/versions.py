"""Version comparison for the schemes packages really use, as a sort key.

The order is dpkg's (which RPM's ``rpmvercmp`` agrees with for everything but corner cases of
punctuation): an optional numeric epoch (``1:2.3``), the upstream version, and an optional
revision after the last hyphen (``1.2-3ubuntu1``). Each part is compared as alternating runs of
non-digits (character by character: ``~`` before the end of the run, the end before a letter, a
letter before any other character) and digits (as numbers, so leading zeros do not count). That
makes ``1.1.1 < 1.1.1a < 1.1.1k < 1.1.1l``, ``1.0~rc1 < 1.0`` and ``2.10 > 2.9``. Pre-release
words (alpha, beta, rc, pre, preview, dev) count as if preceded by ``~``: ``3.0.0-alpha < 3.0.0``.

Every version string has a key, so the order is total (a preorder on strings: ``1.01`` and
``1.1`` compare equal) and comparisons are tuple comparisons.
"""

from __future__ import annotations

import functools
import re
from typing import TypeAlias

_EPOCH = re.compile(r"^\s*(\d+):(.*)$", re.DOTALL)
_RUNS = re.compile(r"(\D*)(\d*)")
# Pre-release words (``3.0.0-alpha``, ``1.0rc1``, openssl's ``1.1.1-pre9``) sort before the
# release, as semver and PEP 440 say: they are read as if written with dpkg's ``~``.
_PRE_RELEASE = re.compile(r"[-._]?(alpha|beta|rc|pre|preview|dev)(?=\d|[-._]|$)", re.IGNORECASE)

# Run of non-digits: per-character weights, then a terminator (0) that sorts after '~' (-1) and
# before every other character, which is how dpkg treats the end of a run.
RunKey: TypeAlias = tuple[int, ...]
PartKey: TypeAlias = tuple[tuple[RunKey, int], ...]
VersionKey: TypeAlias = tuple[int, PartKey, PartKey]

# The pair a finished part compares as: an empty non-digit run and the number 0. Appending it
# once lets plain tuple comparison stand in for dpkg's loop "while either string has characters".
_END: tuple[RunKey, int] = ((0,), 0)


def _char_weight(char: str) -> int:
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _part_key(part: str) -> PartKey:
    pairs: list[tuple[RunKey, int]] = []
    for letters, digits in _RUNS.findall(part):
        if not letters and not digits:
            continue
        run = (*(_char_weight(char) for char in letters), 0)
        pairs.append((run, int(digits) if digits else 0))
    pairs.append(_END)
    return tuple(pairs)


def split_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) as dpkg reads them; epoch 0 and revision "" when absent."""
    epoch = 0
    rest = _PRE_RELEASE.sub(r"~\1", version.strip())
    matched = _EPOCH.match(rest)
    if matched is not None:
        epoch = int(matched.group(1))
        rest = matched.group(2)
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        return epoch, rest, ""
    return epoch, upstream, revision


@functools.lru_cache(maxsize=65536)
def version_key(version: str) -> VersionKey:
    """The sort key of a version: compare keys instead of strings."""
    epoch, upstream, revision = split_version(version)
    return epoch, _part_key(upstream), _part_key(revision)


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` sorts before, with or after ``right``."""
    left_key, right_key = version_key(left), version_key(right)
    return (left_key > right_key) - (left_key < right_key)


def without_epoch(version: str) -> str:
    """The version without its ``N:`` epoch (NVD's ranges never carry one)."""
    matched = _EPOCH.match(version)
    return matched.group(2) if matched is not None else version
