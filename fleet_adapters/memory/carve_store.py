"""In-memory CarveStore: block bytes by (carve id, block id), outside any unit of work, as the
Postgres store commits each block on its own."""

from __future__ import annotations

import attrs

from fleet_core.model.carves import Carve


@attrs.define
class InMemoryCarveStore:
    blocks: dict[tuple[int, int], bytes] = attrs.field(factory=dict)

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        self.blocks[(carve.id, block_id)] = bytes(data)

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        return self.blocks.get((carve.id, block_id))

    async def delete(self, carve: Carve) -> None:
        for key in [k for k in self.blocks if k[0] == carve.id]:
            del self.blocks[key]
