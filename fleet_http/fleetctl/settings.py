"""fleetctl's contexts: named server addresses and tokens in one YAML file only its owner can read.

The file is ``$FLEETCTL_CONFIG``, or ``fleetctl/config.yml`` under the user's configuration
directory (``$XDG_CONFIG_HOME``, else ``~/.config``), written with mode 0600. The environment
overrides the chosen context key by key: ``FLEETCTL_ADDRESS``, ``FLEETCTL_TOKEN``,
``FLEETCTL_ROOTCA``, ``FLEETCTL_TLS_SKIP_VERIFY`` (true/false); ``FLEETCTL_CONTEXT`` picks the
context when ``--context`` is not given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import yaml

KEYS = ("address", "email", "token", "tls-skip-verify", "rootca")
ENV = {"address": "FLEETCTL_ADDRESS", "token": "FLEETCTL_TOKEN", "rootca": "FLEETCTL_ROOTCA",
       "tls-skip-verify": "FLEETCTL_TLS_SKIP_VERIFY", "email": "FLEETCTL_EMAIL"}


def config_path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("FLEETCTL_CONFIG"):
        return Path(os.environ["FLEETCTL_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fleetctl" / "config.yml"


def context_name(explicit: str | None) -> str:
    return explicit or os.environ.get("FLEETCTL_CONTEXT") or "default"


@attrs.define
class Context:
    address: str = ""
    email: str = ""
    token: str = ""
    tls_skip_verify: bool = False
    rootca: str = ""


def load_all(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    contexts = data.get("contexts") or {}
    return {str(k): dict(v or {}) for k, v in contexts.items()}


def save_all(path: Path, contexts: dict[str, dict[str, Any]]) -> None:
    """Write the file with mode 0600 from its first byte (it holds session tokens)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = yaml.safe_dump({"contexts": contexts}, sort_keys=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def set_keys(path: Path, name: str, values: dict[str, Any]) -> None:
    contexts = load_all(path)
    context = contexts.setdefault(name, {})
    context.update({k: v for k, v in values.items() if v is not None})
    save_all(path, contexts)


def load(path: Path, name: str) -> Context:
    """The context, with the FLEETCTL_* environment applied over it."""
    raw = {**load_all(path).get(name, {})}
    for key, variable in ENV.items():
        if variable in os.environ:
            raw[key] = os.environ[variable]
    skip = raw.get("tls-skip-verify", False)
    if isinstance(skip, str):
        skip = skip.strip().lower() in ("1", "true", "yes")
    return Context(address=str(raw.get("address") or ""), email=str(raw.get("email") or ""),
                   token=str(raw.get("token") or ""), tls_skip_verify=bool(skip), rootca=str(raw.get("rootca") or ""))
