"""The node-key file: lets a second run resume the same hosts without enrolling them again."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import msgspec

FORMAT = "fleet-sim-node-keys/1"


class NodeKeyFile(msgspec.Struct, kw_only=True):
    format: str = FORMAT
    # Identities derive from the seed; keys saved under one seed mean nothing under another.
    seed: int | None = None
    keys: dict[str, str] = {}  # host_identifier -> node_key


def load_node_keys(path: Path) -> NodeKeyFile:
    """The saved keys, or an empty file when there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return NodeKeyFile()
    loaded = msgspec.json.decode(data, type=NodeKeyFile)
    if loaded.format != FORMAT:
        raise ValueError(f"{path}: not a fleet-sim node key file (format {loaded.format!r})")
    return loaded


def save_node_keys(path: Path, keys: Mapping[str, str], *, seed: int) -> None:
    """Write atomically with owner-only permissions: node keys are credentials."""
    body = msgspec.json.encode(NodeKeyFile(seed=seed, keys=dict(sorted(keys.items()))))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
