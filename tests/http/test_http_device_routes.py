"""Fleet Desktop's device-authenticated routes beyond policies: the device's host, the desktop
summary, refetch, device mapping, macadmins, API features, transparency, agent error reports and
the MDM routes this server answers as Fleet does with MDM turned off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from structlog.testing import capture_logs

from fleet_core.model.hosts import DeviceMapping, HostFacts, MDMInfo, MunkiInfo
from tests.http.support import assert_error
from tests.http.test_http_device import issue
from tests.http.test_http_hosts import add_host
from tests.http.test_http_policies import add, answer, team_url

if TYPE_CHECKING:
    from tests.http.support import Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
PREFIXES = ["/api/v1/fleet", "/api/latest/fleet"]
MDM_OFF = ("MDM features aren't turned on in Fleet. For more information about setting up MDM, "
           "please visit https://fleetdm.com/docs/using-fleet")
ERROR_REPORT = {
    "error_source": "fleet-desktop",
    "error_source_version": "1.20.0",
    "error_timestamp": "2026-12-04T04:25:15.123456789Z",
    "error_message": "could not reach the server",
    "error_additional_info": {"attempt": 3, "hostname": "laptop"},
}

# Every device route with what a valid token gets, so an invalid one can be checked on each.
ROUTES: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "", None, 200),
    ("GET", "/desktop", None, 200),
    ("GET", "/policies", None, 200),
    ("POST", "/refetch", None, 200),
    ("GET", "/device_mapping", None, 200),
    ("GET", "/macadmins", None, 200),
    ("GET", "/api_features", None, 200),
    ("GET", "/transparency", None, 307),
    ("POST", "/debug/errors", ERROR_REPORT, 500),
    ("POST", "/rotate_encryption_key", None, 400),
    ("GET", "/mdm/apple/manual_enrollment_profile", None, 400),
    ("POST", "/migrate_mdm", None, 400),
]


async def call(fleet: Fleet, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    return await fleet.client.request(method, url, json=body, follow_redirects=False)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "suffix", "body", "status"), ROUTES)
async def test_each_route_answers_a_valid_token_and_refuses_others(
        fleet: Fleet, prefix: str, method: str, suffix: str, body: dict[str, Any] | None, status: int) -> None:
    host = await add_host(fleet, "laptop")
    token = await issue(fleet, host)

    response = await call(fleet, method, f"{prefix}/device/{token}{suffix}", body)
    assert response.status_code == status, response.text

    assert_error(await call(fleet, method, f"{prefix}/device/not-a-token{suffix}", body), 401)
    # A user's API token is no device token, and a rotated token stops working.
    assert fleet.admin is not None
    assert_error(await call(fleet, method, f"{prefix}/device/{fleet.admin.token}{suffix}", body), 401)
    await issue(fleet, host)
    assert_error(await call(fleet, method, f"{prefix}/device/{token}{suffix}", body), 401)


async def test_a_deleted_hosts_token_is_refused_everywhere(fleet: Fleet) -> None:
    host = await add_host(fleet, "laptop")
    token = await issue(fleet, host)
    assert (await fleet.client.delete(f"{V1}/hosts/{host}", headers=fleet.as_admin)).status_code == 200
    for method, suffix, body, _ in ROUTES:
        assert_error(await call(fleet, method, f"{V1}/device/{token}{suffix}", body), 401)


# ---- the device's host ---------------------------------------------------------------------------

async def test_get_device_host_shows_the_host_as_get_host_does_plus_the_org_settings(fleet: Fleet) -> None:
    patched = await fleet.client.patch(f"{V1}/config", headers=fleet.as_admin, json={"org_info": {
        "org_name": "Acme", "org_logo_url": "https://acme.example.com/logo.png",
        "org_logo_url_light_background": "https://acme.example.com/logo-light.png",
        "contact_url": "https://acme.example.com/help"}})
    assert patched.status_code == 200, patched.text
    host = await add_host(fleet, "laptop", facts=HostFacts(
        device_mapping=(DeviceMapping(email="ada@example.com", source="google_chrome_profiles"),)))
    token = await issue(fleet, host)

    response = await fleet.client.get(f"{V1}/device/{token}")

    assert response.status_code == 200, response.text
    body = response.json()
    admin_view = (await fleet.client.get(f"{V1}/hosts/{host}", headers=fleet.as_admin)).json()["host"]
    assert body["host"] == admin_view
    assert body["host"]["id"] == host and body["host"]["hostname"] == "laptop.local"
    assert body["host"]["device_mapping"] == [{"email": "ada@example.com", "source": "google_chrome_profiles"}]
    assert body["org_logo_url"] == "https://acme.example.com/logo.png"
    assert body["org_logo_url_light_background"] == "https://acme.example.com/logo-light.png"
    assert body["org_contact_url"] == "https://acme.example.com/help"
    assert body["license"] == {"tier": "free", "expiration": "0001-01-01T00:00:00Z"}
    assert body["global_config"] == {"mdm": {"enabled_and_configured": False},
                                     "features": {"enable_software_inventory": True}}
    assert body["self_service"] is False


# ---- desktop -------------------------------------------------------------------------------------

async def test_desktop_counts_the_failing_policies_the_policies_route_lists(fleet: Fleet) -> None:
    team = await fleet.add_team("blue")
    failing = [await add(fleet, name="global fail", platform=""),
               await add(fleet, team_url(team), name="team fail", platform="")]
    passing = await add(fleet, name="global pass", platform="")
    await add(fleet, name="unanswered", platform="")
    mac_only = await add(fleet, name="mac only", platform="darwin")
    other_team = await fleet.add_team("red")
    elsewhere = await add(fleet, team_url(other_team), name="other team", platform="")
    host = await add_host(fleet, "laptop", team_id=team)
    # Answers to policies that do not apply to the host do not count.
    await answer(fleet, host, {failing[0]["id"]: False, failing[1]["id"]: False, passing["id"]: True,
                               mac_only["id"]: False, elsewhere["id"]: False})
    token = await issue(fleet, host)

    response = await fleet.client.get(f"{V1}/device/{token}/desktop")

    assert response.status_code == 200, response.text
    body = response.json()
    listed = (await fleet.client.get(f"{V1}/device/{token}/policies")).json()["policies"]
    assert body["failing_policies_count"] == sum(1 for p in listed if p["response"] == "fail") == 2
    assert body["notifications"] == {"needs_mdm_migration": False, "renew_enrollment_profile": False}
    org_info = (await fleet.client.get(f"{V1}/config", headers=fleet.as_admin)).json()["org_info"]
    assert body["config"] == {
        "org_info": {key: org_info[key] for key in
                     ("org_name", "org_logo_url", "org_logo_url_light_background", "contact_url")},
        "mdm": {"macos_migration": {"mode": ""}},
    }

    await answer(fleet, host, {failing[0]["id"]: True})
    again = await fleet.client.get(f"{V1}/device/{token}/desktop")
    assert again.json()["failing_policies_count"] == 1


async def test_desktop_shows_the_org_info(fleet: Fleet) -> None:
    await fleet.client.patch(f"{V1}/config", headers=fleet.as_admin,
                             json={"org_info": {"org_name": "Acme", "org_logo_url": "https://acme.example.com/l.png"}})
    token = await issue(fleet, await add_host(fleet, "laptop"))
    body = (await fleet.client.get(f"{V1}/device/{token}/desktop")).json()
    assert body["failing_policies_count"] == 0
    assert body["config"]["org_info"]["org_name"] == "Acme"
    assert body["config"]["org_info"]["org_logo_url"] == "https://acme.example.com/l.png"


# ---- refetch -------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_refetch_flags_only_the_devices_host(fleet: Fleet, prefix: str) -> None:
    host = await add_host(fleet, "laptop")
    other = await add_host(fleet, "desktop")
    token = await issue(fleet, host)

    async def refetch_requested(host_id: int) -> bool:
        response = await fleet.client.get(f"{V1}/hosts/{host_id}", headers=fleet.as_admin)
        return bool(response.json()["host"]["refetch_requested"])

    assert await refetch_requested(host) is False
    response = await fleet.client.post(f"{prefix}/device/{token}/refetch")
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert await refetch_requested(host) is True
    assert await refetch_requested(other) is False


# ---- device mapping and macadmins ----------------------------------------------------------------

async def test_device_mapping_lists_the_hosts_emails_or_none(fleet: Fleet) -> None:
    mapped = await add_host(fleet, "mapped", facts=HostFacts(device_mapping=(
        DeviceMapping(email="ada@example.com", source="google_chrome_profiles"),
        DeviceMapping(email="grace@example.com", source="google_chrome_profiles"))))
    plain = await add_host(fleet, "plain")

    response = await fleet.client.get(f"{V1}/device/{await issue(fleet, mapped)}/device_mapping")
    assert response.status_code == 200, response.text
    assert response.json() == {"host_id": mapped, "device_mapping": [
        {"email": "ada@example.com", "source": "google_chrome_profiles"},
        {"email": "grace@example.com", "source": "google_chrome_profiles"}]}
    # The same as the user-authenticated route shows.
    by_id = await fleet.client.get(f"{V1}/hosts/{mapped}/device_mapping", headers=fleet.as_admin)
    assert by_id.json() == response.json()

    empty = await fleet.client.get(f"{V1}/device/{await issue(fleet, plain)}/device_mapping")
    assert empty.json() == {"host_id": plain, "device_mapping": []}


async def test_macadmins_shows_what_the_host_reported_or_null(fleet: Fleet) -> None:
    reporting = await add_host(fleet, "mac", facts=HostFacts(
        mdm=MDMInfo(enrolled=True, server_url="https://mdm.example.com", installed_from_dep=False, name="Jamf"),
        munki=MunkiInfo(version="5.5.1")))
    silent = await add_host(fleet, "linux")

    response = await fleet.client.get(f"{V1}/device/{await issue(fleet, reporting)}/macadmins")
    assert response.status_code == 200, response.text
    by_id = await fleet.client.get(f"{V1}/hosts/{reporting}/macadmins", headers=fleet.as_admin)
    assert response.json() == by_id.json()
    macadmins = response.json()["macadmins"]
    assert macadmins["munki"] == {"version": "5.5.1"}
    assert macadmins["mobile_device_management"]["server_url"] == "https://mdm.example.com"

    none = await fleet.client.get(f"{V1}/device/{await issue(fleet, silent)}/macadmins")
    assert none.status_code == 200
    assert none.json() == {"macadmins": None}


# ---- API features, transparency ------------------------------------------------------------------

async def test_api_features_and_transparency(fleet: Fleet) -> None:
    token = await issue(fleet, await add_host(fleet, "laptop"))
    features = await fleet.client.get(f"{V1}/device/{token}/api_features")
    assert (features.status_code, features.json()) == (200, {"features": {}})

    redirect = await fleet.client.get(f"{V1}/device/{token}/transparency", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "https://fleetdm.com/transparency"


# ---- agent error reports -------------------------------------------------------------------------

async def test_an_error_report_is_logged_without_the_token_and_answered_with_500(fleet: Fleet) -> None:
    host = await add_host(fleet, "laptop")
    token = await issue(fleet, host)

    with capture_logs() as logs:
        response = await fleet.client.post(f"{V1}/device/{token}/debug/errors", json=ERROR_REPORT)

    assert_error(response, 500)
    reports = [entry for entry in logs if entry["event"] == "fleetd_error_reported"]
    assert len(reports) == 1
    report = reports[0]
    assert report["host_id"] == host
    assert (report["error_source"], report["error_source_version"]) == ("fleet-desktop", "1.20.0")
    assert report["error_message"] == "could not reach the server"
    assert report["error_timestamp"].startswith("2026-12-04T04:25:15")
    # The free-form info is reduced to its keys: it may carry anything the agent saw.
    assert report["additional_info_keys"] == ["attempt", "hostname"]
    assert all(token not in repr(entry) for entry in logs)


async def test_an_error_report_of_the_wrong_shape_is_a_400_naming_the_field(fleet: Fleet) -> None:
    token = await issue(fleet, await add_host(fleet, "laptop"))
    url = f"{V1}/device/{token}/debug/errors"
    assert_error(await fleet.client.post(url, json={**ERROR_REPORT, "error_message": 5}), 400, "error_message")
    assert_error(await fleet.client.post(url, json={**ERROR_REPORT, "error_timestamp": "yesterday"}), 400,
                 "error_timestamp")
    assert_error(await fleet.client.post(url, json={**ERROR_REPORT, "error_additional_info": [1]}), 400,
                 "error_additional_info")
    assert_error(await fleet.client.post(url, content=b"{not json", headers={"Content-Type": "application/json"}),
                 400)


# ---- MDM -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "suffix"), [
    ("POST", "/rotate_encryption_key"), ("GET", "/mdm/apple/manual_enrollment_profile"), ("POST", "/migrate_mdm")])
async def test_mdm_routes_say_mdm_is_off(fleet: Fleet, method: str, suffix: str) -> None:
    token = await issue(fleet, await add_host(fleet, "mac", platform="darwin"))
    body = assert_error(await call(fleet, method, f"{V1}/device/{token}{suffix}"), 400)
    assert body["message"] == MDM_OFF
    assert body["errors"] == [{"name": "base", "reason": MDM_OFF}]
