"""GET/PATCH /config (merge semantics, masked SMTP password, type and value errors) and the
TLS certificate chain."""

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import in_memory_kit
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services import Services
from fleet_http.app import create_app
from tests.http.support import SMTP_ON, assert_error

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
SECTIONS = {
    "org_info", "server_settings", "smtp_settings", "sso_settings", "host_expiry_settings", "features",
    "agent_options", "license", "logging", "vulnerability_settings", "webhook_settings", "integrations",
    "update_interval", "vulnerabilities",
}
SMTP_KEYS = {
    "enable_smtp", "configured", "sender_address", "server", "port", "authentication_type", "user_name",
    "password", "enable_ssl_tls", "authentication_method", "domain", "verify_ssl_certs", "enable_start_tls",
}


async def get_config(fleet: Fleet) -> dict[str, Any]:
    response = await fleet.client.get(f"{V1}/config", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def patch(fleet: Fleet, body: Any) -> Any:
    return await fleet.client.patch(f"{V1}/config", headers=fleet.as_admin, json=body)


async def test_get_config_has_fleets_sections_and_setup_values(fleet: Fleet) -> None:
    config = await get_config(fleet)
    assert SECTIONS <= set(config)
    assert config["org_info"]["org_name"] == "Acme"
    assert config["server_settings"]["server_url"] == "https://fleet.example.com"
    assert set(config["smtp_settings"]) == SMTP_KEYS
    assert config["smtp_settings"]["enable_smtp"] is False
    assert config["smtp_settings"]["port"] == 587
    assert config["license"] == {"tier": "free", "expiration": "0001-01-01T00:00:00Z"}
    assert config["update_interval"] == {"osquery_detail": 3600000000000, "osquery_policy": 3600000000000}
    assert config["host_expiry_settings"] == {"host_expiry_enabled": False, "host_expiry_window": 0}
    assert config["agent_options"]["config"]["options"]["distributed_interval"] == 10
    assert {"debug", "json", "result", "status"} <= set(config["logging"])


async def test_every_role_reads_the_config_with_the_smtp_password_masked(cast: Cast) -> None:
    fleet = cast.fleet
    secret = {"smtp_settings": {**SMTP_ON["smtp_settings"], "authentication_type": "authtype_username_password",
                                "user_name": "mailer", "password": "hunter2-smtp"}}
    assert (await patch(fleet, secret)).status_code == 200
    for actor in cast.actors.values():
        response = await fleet.client.get(f"{V1}/config", headers=actor.headers)
        assert response.status_code == 200
        assert response.json()["smtp_settings"]["password"] == "********"
        assert "hunter2-smtp" not in response.text


async def test_patch_merges_field_by_field_and_keeps_everything_else(fleet: Fleet) -> None:
    before = await get_config(fleet)
    response = await patch(fleet, {"org_info": {"org_logo_url": "https://fleetdm.com/logo.png"},
                                   "host_expiry_settings": {"host_expiry_enabled": True, "host_expiry_window": 30}})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["org_info"]["org_logo_url"] == "https://fleetdm.com/logo.png"
    assert after["org_info"]["org_name"] == "Acme"
    assert after["host_expiry_settings"] == {"host_expiry_enabled": True, "host_expiry_window": 30}
    expected = copy.deepcopy(before)
    expected["org_info"]["org_logo_url"] = "https://fleetdm.com/logo.png"
    expected["host_expiry_settings"] = {"host_expiry_enabled": True, "host_expiry_window": 30}
    assert after == expected
    assert await get_config(fleet) == expected


async def test_patch_with_an_empty_object_changes_nothing(fleet: Fleet) -> None:
    before = await get_config(fleet)
    response = await patch(fleet, {})
    assert response.status_code == 200
    assert response.json() == before


async def test_patch_replaces_agent_options_whole(fleet: Fleet) -> None:
    options = {"config": {"options": {"distributed_interval": 3}}, "overrides": {}}
    response = await patch(fleet, {"agent_options": options})
    assert response.status_code == 200, response.text
    assert response.json()["agent_options"] == options
    activities = (await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)).json()["activities"]
    assert "edited_agent_options" in [a["type"] for a in activities]


async def test_fleets_own_example_enables_smtp_and_sends_a_test_mail(fleet: Fleet) -> None:
    # The REST doc's example sends the port as a string; Fleet accepts it.
    response = await patch(fleet, {
        "org_info": {"org_name": "Fleet Device Management", "org_logo_url": "https://fleetdm.com/logo.png"},
        "smtp_settings": {"enable_smtp": True, "server": "localhost", "port": "1025",
                          "sender_address": "fleet@example.com", "authentication_type": "authtype_none"},
    })
    assert response.status_code == 200, response.text
    smtp = response.json()["smtp_settings"]
    assert (smtp["enable_smtp"], smtp["configured"], smtp["server"], smtp["port"]) == (True, True, "localhost", 1025)
    assert [m.to for m in fleet.kit.mailer.sent] == ["admin@example.com"]


async def test_smtp_that_cannot_deliver_is_refused_and_not_stored(fleet: Fleet) -> None:
    fleet.kit.mailer.unavailable = True
    response = await patch(fleet, SMTP_ON)
    assert_error(response, 422)
    assert (await get_config(fleet))["smtp_settings"]["enable_smtp"] is False


async def test_the_masked_password_echoed_back_does_not_overwrite_the_stored_one(fleet: Fleet) -> None:
    smtp = {**SMTP_ON["smtp_settings"], "authentication_type": "authtype_username_password",
            "user_name": "mailer", "password": "hunter2-smtp"}
    assert (await patch(fleet, {"smtp_settings": smtp})).status_code == 200
    echoed = await get_config(fleet)
    assert echoed["smtp_settings"]["password"] == "********"
    echoed["smtp_settings"]["server"] = "smtp2.example.com"
    response = await patch(fleet, echoed)
    assert response.status_code == 200, response.text
    stored = await fleet.kit.services.config.current()
    assert stored.smtp_settings.password == "hunter2-smtp"
    assert stored.smtp_settings.server == "smtp2.example.com"


async def test_echoing_back_the_whole_get_response_is_accepted(fleet: Fleet) -> None:
    # Read-only sections (license, logging, ...) come back from clients that PATCH what they GOT.
    before = await get_config(fleet)
    response = await patch(fleet, before)
    assert response.status_code == 200, response.text
    assert response.json() == before


async def test_a_new_smtp_password_replaces_the_stored_one(fleet: Fleet) -> None:
    smtp = {**SMTP_ON["smtp_settings"], "authentication_type": "authtype_username_password",
            "user_name": "mailer", "password": "first-pass"}
    await patch(fleet, {"smtp_settings": smtp})
    assert (await patch(fleet, {"smtp_settings": {"password": "second-pass"}})).status_code == 200
    assert (await fleet.kit.services.config.current()).smtp_settings.password == "second-pass"


@pytest.mark.parametrize(("body", "name"), [
    ({"no_such_section": {}}, "no_such_section"),
    ({"org_info": {"org_nmae": "typo"}}, "org_info.org_nmae"),
    ({"smtp_settings": {"enable_smtp": True, "bogus": 1}}, "smtp_settings.bogus"),
])
async def test_patch_with_an_unknown_key_is_400_naming_it(fleet: Fleet, body: dict[str, Any], name: str) -> None:
    before = await get_config(fleet)
    result = assert_error(await patch(fleet, body), 400, name)
    assert result["message"] == "Bad request"
    assert await get_config(fleet) == before


@pytest.mark.parametrize(("body", "name"), [
    ({"org_info": "Acme"}, "org_info"),
    ({"org_info": {"org_name": 5}}, "org_info.org_name"),
    ({"server_settings": {"live_query_disabled": "yes"}}, "server_settings.live_query_disabled"),
    ({"smtp_settings": {"port": "twenty-five"}}, "smtp_settings.port"),
    ({"smtp_settings": {"port": True}}, "smtp_settings.port"),
    ({"host_expiry_settings": {"host_expiry_window": 1.5}}, "host_expiry_settings.host_expiry_window"),
    ({"webhook_settings": {"failing_policies_webhook": {"policy_ids": "1,2"}}},
     "webhook_settings.failing_policies_webhook.policy_ids"),
    ({"agent_options": [1, 2]}, "agent_options"),
])
async def test_patch_with_a_wrong_type_is_400_naming_the_field(fleet: Fleet, body: dict[str, Any], name: str) -> None:
    assert_error(await patch(fleet, body), 400, name)


@pytest.mark.parametrize(("body", "name"), [
    ({"org_info": {"org_name": ""}}, "org_name"),
    ({"server_settings": {"server_url": "not a url"}}, "server_url"),
    ({"smtp_settings": {"enable_smtp": True, "server": "", "sender_address": "a@example.com",
                        "authentication_type": "authtype_none"}}, "server"),
    ({"smtp_settings": {"enable_smtp": True, "server": "smtp.example.com", "sender_address": "a@example.com",
                        "authentication_type": "authtype_none", "port": 70000}}, "port"),
    ({"sso_settings": {"enable_sso": True}}, "metadata"),
    ({"host_expiry_settings": {"host_expiry_enabled": True, "host_expiry_window": 0}}, "host_expiry_window"),
    ({"agent_options": {"config": {}, "nonsense": 1}}, "agent_options"),
    ({"webhook_settings": {"host_status_webhook": {"enable_host_status_webhook": True,
                                                   "destination_url": "ftp://x", "host_percentage": 5,
                                                   "days_count": 7}}}, "destination_url"),
])
async def test_patch_with_an_invalid_value_is_422_naming_the_field(
    fleet: Fleet, body: dict[str, Any], name: str
) -> None:
    before = await get_config(fleet)
    result = assert_error(await patch(fleet, body), 422, name)
    assert result["message"] == "Validation Failed"
    assert await get_config(fleet) == before


async def test_patch_reports_every_invalid_field_at_once(fleet: Fleet) -> None:
    response = await patch(fleet, {"org_info": {"org_name": ""}, "server_settings": {"server_url": "nope"}})
    assert_error(response, 422, "org_name", "server_url")


@pytest.mark.parametrize("content", [b"{", b"[]", b"null", b'"config"'])
async def test_patch_with_a_body_that_is_not_an_object_is_400(fleet: Fleet, content: bytes) -> None:
    response = await fleet.client.patch(f"{V1}/config", content=content,
                                        headers={**fleet.as_admin, "Content-Type": "application/json"})
    assert_error(response, 400)


async def test_certificate_is_404_when_the_server_does_not_serve_tls(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(f"{V1}/config/certificate", headers=fleet.as_admin), 404, "base")


PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY2VydA==\n-----END CERTIFICATE-----\n"


async def test_certificate_returns_the_served_chain_as_base64_of_the_pem(anyio_backend: str) -> None:
    kit = in_memory_kit(runtime=ServerRuntime(certificate_chain=PEM))

    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        yield kit.services

    async with AsyncTestClient(create_app(services)) as client:
        setup = await client.post("/api/v1/setup", json={
            "admin": {"email": "admin@example.com", "name": "Ada", "password": "correct-horse-9!battery"},
            "org_info": {"org_name": "Acme"}, "server_url": "https://fleet.example.com"})
        token = setup.json()["token"]
        response = await client.get(f"{V1}/config/certificate", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"certificate_chain"}
        assert base64.b64decode(response.json()["certificate_chain"]).decode() == PEM
        assert_error(await client.get(f"{V1}/config/certificate"), 401)
