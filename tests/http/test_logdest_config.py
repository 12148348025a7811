"""GET /config's logging block for the remote log plugins: where logs go, never a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import in_memory_kit
from fleet_adapters.settings import load_settings, server_runtime
from fleet_core.services import Services
from fleet_http.app import create_app

pytestmark = pytest.mark.anyio

SECRETS = ("AKIAEXAMPLEKEY", "aws-secret-value", "bearer-secret", "header-secret", "url-password", "url-token")


async def logging_block(overrides: dict[str, Any], data_dir: str) -> dict[str, Any]:
    settings = load_settings({"server_tls": False, "data_dir": data_dir, **overrides}, environ={})
    kit = in_memory_kit(runtime=server_runtime(settings))

    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        yield kit.services

    async with AsyncTestClient(create_app(services)) as client:
        setup = await client.post("/api/v1/setup", json={
            "admin": {"email": "admin@example.com", "name": "Ada", "password": "correct-horse-9!battery"},
            "org_info": {"org_name": "Acme"}, "server_url": "https://fleet.example.com"})
        token = setup.json()["token"]
        response = await client.get("/api/v1/fleet/config", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        text = response.text
        assert not [secret for secret in SECRETS if secret in text]
        return dict(response.json()["logging"])


async def test_firehose_results_and_webhook_status_are_reported_without_secrets(tmp_path: Any) -> None:
    logging = await logging_block({
        "osquery_result_log_plugin": "firehose", "firehose_region": "eu-west-1",
        "firehose_result_stream": "osquery-results", "firehose_access_key_id": "AKIAEXAMPLEKEY",
        "firehose_secret_access_key": "aws-secret-value",
        "firehose_sts_assume_role_arn": "arn:aws:iam::123456789012:role/fleet", "firehose_sts_external_id": "ext-1",
        "osquery_status_log_plugin": "webhook",
        "webhook_status_url": "https://fleet:url-password@siem.example.com/in?key=url-token",
        "webhook_bearer_token": "bearer-secret", "webhook_headers": "X-Api-Key: header-secret; X-Team: ops",
    }, str(tmp_path))
    assert logging["result"] == {"plugin": "firehose", "config": {
        "region": "eu-west-1", "endpoint_url": "", "status_stream": "", "result_stream": "osquery-results",
        "sts_assume_role_arn": "arn:aws:iam::123456789012:role/fleet", "sts_external_id": "ext-1",
        "access_key_id_set": True}}
    assert logging["status"]["plugin"] == "webhook"
    assert logging["status"]["config"]["status_url"] == "https://siem.example.com/in"
    assert logging["status"]["config"]["header_names"] == ["X-Api-Key", "X-Team"]
    assert logging["status"]["config"]["bearer_token_set"] is True


@pytest.mark.parametrize(("plugin", "overrides", "expected"), [
    ("kinesis", {"kinesis_region": "us-east-1", "kinesis_result_stream": "r", "kinesis_status_stream": "s"},
     {"region": "us-east-1", "result_stream": "r", "status_stream": "s"}),
    ("lambda", {"lambda_region": "us-east-1", "lambda_result_function": "r", "lambda_status_function": "s",
                "lambda_sts_external_id": "ext-2"},
     {"result_function": "r", "status_function": "s", "sts_external_id": "ext-2"}),
    ("pubsub", {"pubsub_project": "p", "pubsub_result_topic": "r", "pubsub_status_topic": "s",
                "pubsub_add_attributes": True}, {"project": "p", "add_attributes": True, "credentials_set": False}),
    ("kafkarest", {"kafkarest_proxyhost": "http://kafka:8082", "kafkarest_result_topic": "r",
                   "kafkarest_status_topic": "s"}, {"proxyhost": "http://kafka:8082", "timeout": 5}),
    ("s3", {"s3_log_bucket": "logs", "s3_log_prefix": "osquery/", "s3_log_secret_access_key": "aws-secret-value",
            "s3_log_sts_external_id": "ext-3"},
     {"bucket": "logs", "prefix": "osquery/", "access_key_id_set": False, "sts_external_id": "ext-3"}),
])
async def test_each_plugin_reports_its_targets(plugin: str, overrides: dict[str, Any], expected: dict[str, Any],
                                               tmp_path: Any) -> None:
    logging = await logging_block({"osquery_result_log_plugin": plugin, "osquery_status_log_plugin": plugin,
                                   **overrides}, str(tmp_path))
    for log_type in ("result", "status"):
        assert logging[log_type]["plugin"] == plugin
        assert expected.items() <= logging[log_type]["config"].items()
