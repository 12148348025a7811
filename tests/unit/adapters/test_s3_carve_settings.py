"""The --s3-* and carve flags (and their FLEET_* variables) as the settings, the S3 options and the
server runtime see them; the S3 secret never shows in the options' repr."""

from __future__ import annotations

from fleet_adapters.s3 import s3_options
from fleet_adapters.settings import load_settings, server_runtime


def test_no_bucket_means_no_s3_and_the_carve_defaults() -> None:
    settings = load_settings({}, environ={})
    assert s3_options(settings) is None
    runtime = server_runtime(load_settings({"server_tls": False}, environ={}))
    assert runtime.agents.carver_block_size == 2 * 1024 * 1024
    assert (runtime.carves.max_block_size, runtime.carves.max_carve_size) == (256 * 1024**2, 8 * 1024**3)


def test_flags_and_environment_make_the_s3_options() -> None:
    settings = load_settings({"s3_bucket": "carves", "s3_force_s3_path_style": True}, environ={
        "FLEET_S3_PREFIX": "fleet/", "FLEET_S3_REGION": "eu-west-1", "FLEET_S3_ENDPOINT_URL": "http://minio:9000",
        "FLEET_S3_ACCESS_KEY_ID": "AKIA", "FLEET_S3_SECRET_ACCESS_KEY": "very-secret-value",
        "FLEET_S3_STS_ASSUME_ROLE_ARN": "arn:aws:iam::1:role/fleet"})
    options = s3_options(settings)
    assert options is not None
    assert (options.bucket, options.prefix, options.region, options.endpoint_url) == (
        "carves", "fleet/", "eu-west-1", "http://minio:9000")
    assert (options.access_key_id, options.secret_access_key, options.sts_assume_role_arn) == (
        "AKIA", "very-secret-value", "arn:aws:iam::1:role/fleet")
    assert options.force_path_style is True
    assert "very-secret-value" not in repr(options)


def test_carve_limits_and_block_size_are_settings() -> None:
    settings = load_settings({"server_tls": False, "osquery_carver_block_size": "5242880"}, environ={
        "FLEET_CARVES_MAX_BLOCK_SIZE": "1048576", "FLEET_CARVES_MAX_CARVE_SIZE": "1073741824"})
    runtime = server_runtime(settings)
    assert runtime.agents.carver_block_size == 5242880
    assert (runtime.carves.max_block_size, runtime.carves.max_carve_size) == (1048576, 1073741824)
