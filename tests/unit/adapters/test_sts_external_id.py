"""The *_sts_external_id flags: the AssumeRole call the AWS client factory makes carries the
ExternalId, checked against moto's server (a real STS endpoint, which records each assumed role)."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from aiobotocore.config import AioConfig

from fleet_adapters.s3 import AwsAccess, S3Options, aws_client, s3_client, s3_options
from fleet_adapters.settings import Settings
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, moto_s3_server

pytestmark = pytest.mark.anyio
ROLE_ARN = "arn:aws:iam::123456789012:role/fleet-writer"


def _assumed_roles(endpoint: str) -> list[dict[str, object]]:
    """Every role moto's STS handed out, with the ExternalId it was asked for."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as answer:  # noqa: S310 - local
        state = json.load(answer)
    return list(state.get("sts", {}).get("AssumedRole", []))


@pytest.fixture(scope="module")
def own_moto() -> Iterator[str]:
    """A moto server of this module's own: its state dump (/moto-api/data.json) reads every object
    moto holds, and the session's shared server holds objects of other tests that it cannot dump."""
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def sts_at_moto(own_moto: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # botocore's per-service endpoint variable: STS at moto, as the flags leave STS at AWS' own.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", own_moto)
    return own_moto


async def test_the_s3_client_assumes_its_role_with_the_external_id(sts_at_moto: str) -> None:
    external_id = f"fleet-{uuid.uuid4().hex}"
    options = S3Options(bucket=f"ext-{uuid.uuid4().hex[:12]}", region=REGION, endpoint_url=sts_at_moto,
                        access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET_ACCESS_KEY,
                        sts_assume_role_arn=ROLE_ARN, sts_external_id=external_id, force_path_style=True)
    async with s3_client(options) as s3:
        await s3.create_bucket(Bucket=options.bucket)
        await s3.put_object(Bucket=options.bucket, Key="k", Body=b"v")
    assumed = [r for r in _assumed_roles(sts_at_moto) if r.get("external_id") == external_id]
    assert [r["role_arn"] for r in assumed] == [ROLE_ARN]


async def test_without_an_external_id_the_call_has_none(sts_at_moto: str) -> None:
    session = f"none-{uuid.uuid4().hex[:8]}"
    access = AwsAccess(region=REGION, endpoint_url=sts_at_moto, access_key_id=ACCESS_KEY_ID,
                       secret_access_key=SECRET_ACCESS_KEY, sts_assume_role_arn=f"{ROLE_ARN}-{session}")
    async with aws_client("s3", access, AioConfig()) as s3:
        await s3.list_buckets()
    assumed = [r for r in _assumed_roles(sts_at_moto) if r.get("role_arn") == f"{ROLE_ARN}-{session}"]
    assert [r.get("external_id") for r in assumed] == [None]


def test_the_s3_flags_reach_the_options() -> None:
    settings = Settings(s3_bucket="b", s3_sts_assume_role_arn=ROLE_ARN, s3_sts_external_id="carves-id")
    options = s3_options(settings)
    assert options is not None and options.access.sts_external_id == "carves-id"
