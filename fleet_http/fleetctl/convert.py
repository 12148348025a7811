"""``fleetctl convert``: an osquery pack (JSON, as osquery reads it) as Fleet YAML documents."""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from fleet_http.fleetctl.specs import SpecError

# osquery's pack files allow // comments and lines continued with a trailing backslash.
_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)
_CONTINUATION = re.compile(r"\\\s*\n")
PACK_QUERY_OPTIONS = ("description", "interval", "platform", "version", "snapshot", "removed", "shard", "denylist")


def convert_pack(text: str, file: str) -> list[dict[str, Any]]:
    try:
        pack = json.loads(_CONTINUATION.sub(" ", _COMMENT.sub("", text)))
    except json.JSONDecodeError as exc:
        raise SpecError(file, None, None, f"not an osquery pack (JSON): {exc}") from None
    if not isinstance(pack, dict) or not isinstance(pack.get("queries"), dict):
        raise SpecError(file, None, "queries", "an osquery pack needs a queries mapping")
    name = PurePath(file).stem
    docs: list[dict[str, Any]] = []
    entries = []
    for query_name, body in pack["queries"].items():
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise SpecError(file, None, f"queries.{query_name}.query", "is required")
        docs.append({"apiVersion": "v1", "kind": "query",
                     "spec": {"name": query_name, "description": str(body.get("description", "")),
                              "query": body["query"]}})
        entry: dict[str, Any] = {"query": query_name, "name": query_name}
        for option in PACK_QUERY_OPTIONS:
            if option in body:
                entry[option] = int(body[option]) if option in ("interval", "shard") else body[option]
        if isinstance(pack.get("platform"), str) and "platform" not in entry:
            entry["platform"] = pack["platform"]
        entries.append(entry)
    pack_spec: dict[str, Any] = {"name": name, "description": str(pack.get("description", "")), "queries": entries}
    if pack.get("disabled") is not None:
        pack_spec["disabled"] = bool(pack["disabled"])
    return [{"apiVersion": "v1", "kind": "pack", "spec": pack_spec}, *docs]
