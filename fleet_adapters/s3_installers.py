"""S3-compatible implementation of fleet_core.ports.InstallerStore, chosen with --s3-bucket.

An installer is the object ``<s3 prefix>installers/<installer_name(key)>``: the same name the
filesystem store uses (a digest of the enroll secret, then the package's file name), so no key
names a secret. Reads stream the object's body chunk by chunk. A put of less than PART_SIZE bytes
is one PutObject, a bigger one a multipart upload of PART_SIZE parts; either way one part is in
memory at a time (two for the moment it is cut from its buffer). The object appears, or replaces
the old one, only when the upload completes, so a reader never sees half an installer; a failed
put aborts its upload and leaves the old one. A GET reads one version of the object, so a put
while a download streams does not mix the two.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import Any, Final, TypeVar

import structlog
from botocore.exceptions import ClientError

from fleet_adapters.installers import CHUNK_BYTES, installer_name
from fleet_adapters.s3 import S3Options
from fleet_adapters.s3_carves import MISSING, STORE_FAILURES
from fleet_core.errors import Unavailable
from fleet_core.model.installers import InstallerBlob, InstallerKey

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Parts of a multipart upload: above S3's minimum (MIN_PART_SIZE, 5 MiB), and 10,000 of them (S3's
# maximum count) allow installers up to 80 GiB, far beyond any fleetd package.
PART_SIZE: Final = 8 * 1024 * 1024
# Beside the carve store's keys (<prefix><session id>), which are UUIDs and never this word.
INSTALLERS_FOLDER: Final = "installers/"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(operation: str, exc: BaseException) -> Unavailable:
    # The error's type and S3's code (NoSuchBucket, AccessDenied, ...) say what is wrong; the
    # message may quote a request, so it is left out.
    reason = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    log.warning("installer_store_failed", operation=operation, error=reason)
    return Unavailable(f"installer store unavailable ({reason})")


class S3InstallerStore:
    def __init__(self, client: Any, options: S3Options) -> None:
        self._client = client
        self._bucket = options.bucket
        self._prefix = options.prefix + INSTALLERS_FOLDER

    def key(self, key: InstallerKey) -> str:
        """The object key of this installer."""
        return self._prefix + installer_name(key)

    async def size(self, key: InstallerKey) -> int | None:
        try:
            answer = await self._client.head_object(Bucket=self._bucket, Key=self.key(key))
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise _unavailable("size", exc) from None
        except STORE_FAILURES as exc:
            raise _unavailable("size", exc) from None
        return int(answer["ContentLength"])

    async def open(self, key: InstallerKey) -> InstallerBlob | None:
        try:
            answer = await self._client.get_object(Bucket=self._bucket, Key=self.key(key))
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise _unavailable("open", exc) from None
        except STORE_FAILURES as exc:
            raise _unavailable("open", exc) from None
        return InstallerBlob(size=int(answer["ContentLength"]), chunks=_stream(answer["Body"]))

    async def put(self, key: InstallerKey, chunks: AsyncIterable[bytes]) -> int:
        object_key = self.key(key)
        # The source's own failures (a file that cannot be read) propagate as they are; only the
        # store's become Unavailable.
        parts = aiter(_parts(chunks))
        first = await anext(parts, b"")
        if len(first) < PART_SIZE:  # the whole installer: a short part is always the last
            await self._call("put", self._client.put_object(Bucket=self._bucket, Key=object_key, Body=first))
            return len(first)
        upload = await self._call("put", self._client.create_multipart_upload(Bucket=self._bucket, Key=object_key))
        upload_id = upload["UploadId"]
        uploaded: list[dict[str, Any]] = []
        size = 0

        async def upload_part(data: bytes) -> None:
            nonlocal size
            answer = await self._call("put", self._client.upload_part(
                Bucket=self._bucket, Key=object_key, UploadId=upload_id, PartNumber=len(uploaded) + 1, Body=data))
            uploaded.append({"PartNumber": len(uploaded) + 1, "ETag": answer["ETag"]})
            size += len(data)

        try:
            await upload_part(first)
            del first  # one part in memory at a time
            async for part in parts:
                await upload_part(part)
                del part
            await self._call("put", self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=object_key, UploadId=upload_id, MultipartUpload={"Parts": uploaded}))
        except BaseException:
            await self._abort(object_key, upload_id)
            raise
        return size

    async def _call(self, operation: str, request: Awaitable[T]) -> T:
        try:
            return await request
        except STORE_FAILURES as exc:
            raise _unavailable(operation, exc) from None

    async def _abort(self, object_key: str, upload_id: str) -> None:
        """Drop an unfinished upload's parts (a store keeps, and bills, them until then)."""
        try:
            await self._client.abort_multipart_upload(Bucket=self._bucket, Key=object_key, UploadId=upload_id)
        except STORE_FAILURES as exc:
            log.warning("installer_upload_not_aborted", error=type(exc).__name__)


async def _parts(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The source regrouped into parts of exactly PART_SIZE bytes but the last, which is shorter
    (nothing at all for an empty source). Each part is copied once, out of the buffer it grows in."""
    buffer = bytearray()
    async for chunk in chunks:
        rest = memoryview(chunk)
        while rest:
            room = PART_SIZE - len(buffer)
            buffer += rest[:room]
            rest = rest[room:]
            if len(buffer) == PART_SIZE:
                part, buffer = bytes(buffer), bytearray()
                yield part
                del part
    if buffer:
        yield bytes(buffer)


async def _stream(body: Any) -> AsyncIterator[bytes]:
    """An object's body chunk by chunk; its connection is released when the reader stops."""
    try:
        while chunk := await body.read(CHUNK_BYTES):
            yield chunk
    except STORE_FAILURES as exc:
        raise _unavailable("read", exc) from None
    finally:
        body.close()
