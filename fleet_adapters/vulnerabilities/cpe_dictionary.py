"""NVD's CPE dictionary 2.0 (``nvdcpe-2.0.tar.gz``): a tar of ``nvdcpe-2.0-chunks/*.json`` files,
each ``{"products": [{"cpe": {"cpeName": "cpe:2.3:...", "deprecated": false, ...}}]}``.

Only application names (part ``a``) that are not deprecated are kept, and only as much as CPE
translation needs: which vendors publish a product of each name, and with which target_sw.
"""

from __future__ import annotations

import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgspec

from fleet_core.rules.cpe import ANY, NOT_APPLICABLE, parse_cpe

DICTIONARY_NAME = "nvdcpe-2.0.tar.gz"
CHUNKS_DIR = "nvdcpe-2.0-chunks/"


class CpeEntry(msgspec.Struct):
    cpeName: str
    deprecated: bool = False


class Product(msgspec.Struct):
    cpe: CpeEntry


class Chunk(msgspec.Struct):
    products: list[Product] = msgspec.field(default_factory=list)


_DECODER = msgspec.json.Decoder(Chunk)


class DictionarySummary(msgspec.Struct, array_like=True):
    """What translation needs from the dictionary: ``vendors_by_product`` (most entries first)
    and ``target_sws`` by ``vendor:product``."""

    vendors_by_product: dict[str, list[str]]
    target_sws: dict[str, list[str]]


def iter_cpe_names(path: Path) -> Iterator[str]:
    """The cpeName of every non-deprecated product, chunk file by chunk file.

    Raises:
        ValueError: not a tar.gz of NVD CPE 2.0 chunks.
    """
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                with handle:
                    chunk = _DECODER.decode(handle.read())
                for product in chunk.products:
                    if not product.cpe.deprecated:
                        yield product.cpe.cpeName
    except (OSError, EOFError, tarfile.TarError, msgspec.DecodeError) as exc:
        raise ValueError(f"{path.name}: not an NVD CPE dictionary 2.0 archive ({exc})") from exc


def summarise(path: Path) -> DictionarySummary:
    vendor_counts: dict[str, Counter[str]] = {}
    targets: dict[str, set[str]] = {}
    for name in iter_cpe_names(path):
        try:
            cpe = parse_cpe(name)
        except ValueError:
            continue
        if cpe.part != "a":
            continue
        vendor_counts.setdefault(cpe.product, Counter())[cpe.vendor] += 1
        if cpe.target_sw not in (ANY, NOT_APPLICABLE):
            targets.setdefault(cpe.key, set()).add(cpe.target_sw)
    return DictionarySummary(
        vendors_by_product={
            product: [vendor for vendor, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
            for product, counts in vendor_counts.items()
        },
        target_sws={key: sorted(values) for key, values in targets.items()},
    )
