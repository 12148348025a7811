"""AWS clients: the one way to open any AWS service client (S3 and S3-compatible stores, Firehose,
Kinesis, Lambda) from an endpoint and credentials, and the S3 options every bucket store shares.

The client is aiobotocore's: requests are signed by botocore, never by hand. Credentials are the
static keys when given, otherwise botocore's default chain (environment, profile, instance
role); with a role ARN, the client assumes that role through STS with those credentials and
renews the temporary ones before they expire.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession, get_session

from fleet_adapters.settings import Settings

# Renewed assumed-role credentials last this long (STS' default and minimum is 15 minutes to 1 hour).
ASSUMED_ROLE_SECONDS = 3600
ROLE_SESSION_NAME = "fleet"


@attrs.frozen(repr=False)
class AwsAccess:
    """How to reach one AWS service: region, endpoint (a local or compatible server) and credentials."""

    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    sts_assume_role_arn: str | None = None
    # The ExternalId of the AssumeRole call, when the role's trust policy asks for one (AWS'
    # guard against the confused deputy); it is not a secret.
    sts_external_id: str | None = None

    def __repr__(self) -> str:
        # Never the secret key: options end up in logs and tracebacks.
        return (f"AwsAccess(region={self.region!r}, endpoint_url={self.endpoint_url!r}, "
                f"role={self.sts_assume_role_arn!r})")


@attrs.frozen(repr=False)
class S3Options:
    """Where objects go and how to reach them; ``prefix`` is prepended to every key."""

    bucket: str
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    sts_assume_role_arn: str | None = None
    sts_external_id: str | None = None
    # Bucket in the path (http://host/bucket/key), as MinIO and most self-hosted servers need.
    force_path_style: bool = False

    @property
    def access(self) -> AwsAccess:
        return AwsAccess(region=self.region, endpoint_url=self.endpoint_url, access_key_id=self.access_key_id,
                         secret_access_key=self.secret_access_key, sts_assume_role_arn=self.sts_assume_role_arn,
                         sts_external_id=self.sts_external_id)

    def __repr__(self) -> str:
        # Never the secret key: options end up in logs and tracebacks.
        return (f"S3Options(bucket={self.bucket!r}, prefix={self.prefix!r}, region={self.region!r}, "
                f"endpoint_url={self.endpoint_url!r}, role={self.sts_assume_role_arn!r})")


def _client_config(options: S3Options) -> AioConfig:
    return AioConfig(
        s3={"addressing_style": "path" if options.force_path_style else "auto"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5, read_timeout=60,
        max_pool_connections=64,
    )


def _session(access: AwsAccess) -> AioSession:
    session = get_session()
    if access.access_key_id and access.secret_access_key:
        session.set_credentials(access.access_key_id, access.secret_access_key)
    return session


@asynccontextmanager
async def s3_client(options: S3Options) -> AsyncIterator[Any]:
    """An S3 client for these options, open for the block's duration (it pools its connections)."""
    async with aws_client("s3", options.access, _client_config(options)) as client:
        yield client


@asynccontextmanager
async def aws_client(service: str, access: AwsAccess, config: AioConfig) -> AsyncIterator[Any]:
    """A client of one AWS service ("s3", "firehose", "kinesis", "lambda") open for the block's
    duration; ``config`` carries the caller's timeouts and retry policy."""
    session = _session(access)
    if access.sts_assume_role_arn:
        role: dict[str, Any] = {"RoleArn": access.sts_assume_role_arn, "RoleSessionName": ROLE_SESSION_NAME,
                                "DurationSeconds": ASSUMED_ROLE_SECONDS}
        if access.sts_external_id:
            role["ExternalId"] = access.sts_external_id

        async def assume_role() -> dict[str, str]:
            async with _session(access).create_client(
                    "sts", region_name=access.region, config=AioConfig(retries={"max_attempts": 3})) as sts:
                answer = await sts.assume_role(**role)
            credentials = answer["Credentials"]
            expiry = credentials["Expiration"]
            return {"access_key": credentials["AccessKeyId"], "secret_key": credentials["SecretAccessKey"],
                    "token": credentials["SessionToken"],
                    "expiry_time": (expiry.astimezone(dt.UTC) if isinstance(expiry, dt.datetime)
                                    else dt.datetime.fromisoformat(str(expiry))).isoformat()}

        session = get_session()
        # aiobotocore has no public setter for refreshable credentials; this is the attribute its
        # own credential providers fill, and the client renews them through assume_role().
        session._credentials = AioDeferredRefreshableCredentials(refresh_using=assume_role, method="sts-assume-role")
    async with session.create_client(
        service, region_name=access.region, endpoint_url=access.endpoint_url, config=config,
    ) as client:
        yield client


def s3_options(settings: Settings) -> S3Options | None:
    """The --s3-* flags as options, or None when no bucket is set."""
    if not settings.s3_bucket:
        return None
    return S3Options(
        bucket=settings.s3_bucket, prefix=settings.s3_prefix, region=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url, access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key, sts_assume_role_arn=settings.s3_sts_assume_role_arn,
        sts_external_id=settings.s3_sts_external_id, force_path_style=settings.s3_force_s3_path_style,
    )
