"""S3-compatible implementation of fleet_core.ports.CarveStore.

A carve whose blocks are at least S3's minimum part size (5 MiB) and that has more than one block
is one object, ``<prefix><session_id>``, written as a multipart upload with one part per block
(part number = block id + 1) and completed when the last block arrives; blocks are read back by
byte range, so only a finished carve can be read (an unfinished upload is not an object yet).
Smaller blocks cannot be parts (S3 refuses any part but the last under 5 MiB), so a carve of
small blocks, or of a single block, is stored as one object per block,
``<prefix><session_id>/<block id>``, each readable as soon as it is written. Either way only one
block is in memory per request.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from botocore.exceptions import BotoCoreError, ClientError

from fleet_adapters.s3 import S3Options
from fleet_core.errors import Unavailable
from fleet_core.model.carves import Carve

log = structlog.get_logger(__name__)

# S3's smallest part but the last; MinIO and Ceph enforce the same.
MIN_PART_SIZE = 5 * 1024 * 1024
MISSING = frozenset({"NoSuchKey", "404", "NoSuchUpload", "NotFound"})
STORE_FAILURES = (ClientError, BotoCoreError, aiohttp.ClientError, TimeoutError, OSError)


def is_multipart(carve: Carve) -> bool:
    return carve.block_size >= MIN_PART_SIZE and carve.block_count > 1


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3CarveStore:
    def __init__(self, client: Any, options: S3Options) -> None:
        self._client = client
        self._bucket = options.bucket
        self._prefix = options.prefix
        # Upload ids by object key, so a block costs one request; another process (or a restart)
        # finds the upload by listing the key's open uploads.
        self._uploads: dict[str, str] = {}

    def key(self, carve: Carve) -> str:
        return f"{self._prefix}{carve.session_id}"

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        try:
            if not is_multipart(carve):
                await self._client.put_object(Bucket=self._bucket, Key=f"{self.key(carve)}/{block_id}", Body=data)
                return
            key = self.key(carve)
            upload_id = await self._open_upload(key, create=block_id == 0)
            if upload_id is None:
                if await self._exists(key):
                    return  # completed by an earlier attempt of the last block, whose answer was lost
                raise Unavailable("the carve's multipart upload is gone")
            await self._client.upload_part(Bucket=self._bucket, Key=key, UploadId=upload_id,
                                           PartNumber=block_id + 1, Body=data)
            if block_id == carve.block_count - 1:
                await self._complete(key, upload_id, carve.block_count)
        except STORE_FAILURES as exc:
            log.warning("carve_store_failed", operation="put_block", error=type(exc).__name__)
            raise Unavailable("carve store unavailable") from None

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        try:
            if not is_multipart(carve):
                answer = await self._client.get_object(Bucket=self._bucket, Key=f"{self.key(carve)}/{block_id}")
            else:
                start = block_id * carve.block_size
                end = min(start + carve.block_size, carve.carve_size) - 1
                answer = await self._client.get_object(Bucket=self._bucket, Key=self.key(carve),
                                                       Range=f"bytes={start}-{end}")
            async with answer["Body"] as body:
                data: bytes = await body.read()
            return data
        except ClientError as exc:
            if _code(exc) in MISSING or _code(exc) == "InvalidRange":
                return None
            log.warning("carve_store_failed", operation="get_block", error=type(exc).__name__)
            raise Unavailable("carve store unavailable") from None
        except STORE_FAILURES as exc:
            log.warning("carve_store_failed", operation="get_block", error=type(exc).__name__)
            raise Unavailable("carve store unavailable") from None

    async def delete(self, carve: Carve) -> None:
        key = self.key(carve)
        try:
            for upload_id in await self._open_uploads(key):
                await self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
            self._uploads.pop(key, None)
            paginator = self._client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=key):
                # The object itself and its per-block objects, never another carve's (session ids
                # are of one length, so none is a prefix of another).
                doomed = [{"Key": o["Key"]} for o in page.get("Contents", [])
                          if o["Key"] == key or o["Key"].startswith(key + "/")]
                if doomed:
                    await self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": doomed, "Quiet": True})
        except STORE_FAILURES as exc:
            log.warning("carve_store_failed", operation="delete", error=type(exc).__name__)
            raise Unavailable("carve store unavailable") from None

    async def _open_upload(self, key: str, *, create: bool) -> str | None:
        cached = self._uploads.get(key)
        if cached is not None:
            return cached
        found = await self._open_uploads(key)
        if found:
            upload_id = found[-1]
        elif create:
            answer = await self._client.create_multipart_upload(Bucket=self._bucket, Key=key)
            upload_id = answer["UploadId"]
        else:
            return None
        self._uploads[key] = upload_id
        return upload_id

    async def _open_uploads(self, key: str) -> list[str]:
        """The ids of the key's unfinished uploads, oldest first."""
        uploads: list[tuple[Any, str]] = []
        paginator = self._client.get_paginator("list_multipart_uploads")
        async for page in paginator.paginate(Bucket=self._bucket, Prefix=key):
            uploads += [(u.get("Initiated"), u["UploadId"]) for u in page.get("Uploads", []) if u["Key"] == key]
        return [upload_id for _, upload_id in sorted(uploads, key=lambda u: (u[0] is None, u[0]))]

    async def _complete(self, key: str, upload_id: str, part_count: int) -> None:
        parts: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("list_parts")
        async for page in paginator.paginate(Bucket=self._bucket, Key=key, UploadId=upload_id):
            parts += [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in page.get("Parts", [])]
        parts = sorted((p for p in parts if p["PartNumber"] <= part_count), key=lambda p: p["PartNumber"])
        await self._client.complete_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id,
                                                     MultipartUpload={"Parts": parts})
        self._uploads.pop(key, None)

    async def _exists(self, key: str) -> bool:
        try:
            await self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in MISSING:
                return False
            raise
        return True
