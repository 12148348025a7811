"""SAML single sign-on over HTTP against a signing IdP started by the test (tests/http/sso_test_idp.py):
settings checked on save, SP- and IdP-initiated login, JIT users, every refusal leaving nothing."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import attrs
import httpx
import pytest

from tests.http.sso_test_idp import (
    KeyPair,
    SigningIdP,
    encode,
    move_signature_to_response,
    tamper_attribute,
    wrap_signed_assertion,
)
from tests.http.support import SERVER_URL, Fleet, assert_error, bearer

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
ENTITY_ID = "https://fleet.example.com/saml"
ACS_URL = f"{SERVER_URL}{V1}/sso/callback"
SSO_EMAIL = "sam@example.com"


@pytest.fixture
def idp() -> Iterator[SigningIdP]:
    with SigningIdP(user_email=SSO_EMAIL).serve() as served:
        yield served


async def configure(fleet: Fleet, idp: SigningIdP, *, by_url: bool = False, **settings: Any) -> httpx.Response:
    sso: dict[str, Any] = {"enable_sso": True, "entity_id": ENTITY_ID, "idp_name": "Test IdP", **settings}
    if by_url:
        sso.setdefault("metadata_url", f"{idp.base_url}/metadata")
    else:
        sso.setdefault("metadata", idp.metadata())
    return await fleet.client.patch(f"{V1}/config", json={"sso_settings": sso}, headers=fleet.as_admin)


async def configured(fleet: Fleet, idp: SigningIdP, **settings: Any) -> None:
    response = await configure(fleet, idp, **settings)
    assert response.status_code == 200, response.text


async def add_sso_user(fleet: Fleet, email: str = SSO_EMAIL, *, sso_enabled: bool = True) -> int:
    # No admin_forced_password_reset: an SSO user gets no pending reset (it would lock them out).
    body: dict[str, Any] = {"name": "Sam Before", "email": email, "global_role": "observer",
                            "sso_enabled": sso_enabled}
    if not sso_enabled:
        body.update(password="correct-horse-9!battery", admin_forced_password_reset=False)
    response = await fleet.client.post(f"{V1}/users/admin", json=body, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return int(response.json()["user"]["id"])


async def initiate(fleet: Fleet, relay_url: str = "/hosts/manage") -> str:
    response = await fleet.client.post(f"{V1}/sso", json={"relay_url": relay_url})
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert isinstance(url, str)
    return url


async def through_idp(idp_url: str) -> tuple[str, str]:
    """The browser at the IdP: GET the AuthnRequest URL, read the form it answers."""
    async with httpx.AsyncClient() as browser:
        page = (await browser.get(idp_url)).text
    action = re.search(r'action="([^"]+)"', page)
    value = re.search(r'name="SAMLResponse" value="([^"]+)"', page)
    assert action and value, page
    return html.unescape(action.group(1)), value.group(1)


async def post_form(fleet: Fleet, saml_response: str) -> httpx.Response:
    return await fleet.client.post(f"{V1}/sso/callback", data={"SAMLResponse": saml_response})


def page_token(page: str) -> str:
    match = re.search(r"localStorage\.setItem\('FLEET::auth_token', \"([^\"]+)\"\)", page)
    assert match, page
    return match.group(1)


@attrs.frozen
class Counts:
    users: int
    sessions: int
    activities: int

    @staticmethod
    def of(fleet: Fleet) -> Counts:
        state = fleet.kit.store.state
        return Counts(len(state.users), len(state.sessions), len(state.activities))


def activity_types(fleet: Fleet) -> list[str]:
    return [a.type for a in fleet.kit.store.state.activities.values()]


async def test_sp_initiated_login_gives_a_session_that_calls_me(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, by_url=True)
    user_id = await add_sso_user(fleet)
    before = Counts.of(fleet)
    idp_url = await initiate(fleet, "/hosts/manage")
    assert idp_url.startswith(f"{idp.base_url}/sso?SAMLRequest=")
    action, saml_response = await through_idp(idp_url)
    assert action == ACS_URL
    response = await post_form(fleet, saml_response)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert 'window.location = "/hosts/manage"' in response.text
    token = page_token(response.text)
    me = await fleet.client.get(f"{V1}/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["user"]["id"] == user_id and me.json()["user"]["sso_enabled"] is True
    after = Counts.of(fleet)
    assert (after.sessions, after.users) == (before.sessions + 1, before.users)
    assert activity_types(fleet)[-1] == "user_logged_in"
    # The same response again: its request is used up.
    again = await post_form(fleet, saml_response)
    assert_error(again, 401)


async def test_a_script_gets_the_token_from_a_json_callback(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp)
    await add_sso_user(fleet)
    _, saml_response = await through_idp(await initiate(fleet, "/dashboard"))
    # As `curl -d` sends it: JSON labelled as a form is still JSON.
    response = await fleet.client.post(f"{V1}/sso/callback", content=f'{{"SAMLResponse": "{saml_response}"}}',
                                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == SSO_EMAIL and body["relay_url"] == "/dashboard"
    me = await fleet.client.get(f"{V1}/me", headers=bearer(body["token"]))
    assert me.status_code == 200


async def test_sso_users_cannot_use_passwords(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp)
    await add_sso_user(fleet)
    await fleet.enable_smtp()
    login = await fleet.client.post(f"{V1}/login", json={"email": SSO_EMAIL, "password": "correct-horse-9!battery"})
    assert_error(login, 401)
    sent = len(fleet.kit.mailer.sent)
    forgot = await fleet.client.post(f"{V1}/forgot_password", json={"email": SSO_EMAIL})
    assert forgot.status_code == 200
    assert len(fleet.kit.mailer.sent) == sent, "no reset mail goes to an SSO user"


async def test_idp_initiated_login_only_when_enabled(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp)
    await add_sso_user(fleet)
    unsolicited = encode(idp.response(acs_url=ACS_URL, audience=ENTITY_ID))
    before = Counts.of(fleet)
    assert_error(await post_form(fleet, unsolicited), 401)
    assert Counts.of(fleet) == before
    await configured(fleet, idp, enable_sso_idp_login=True)
    response = await post_form(fleet, unsolicited)
    assert response.status_code == 200, response.text
    assert 'window.location = "/"' in response.text
    assert (await fleet.client.get(f"{V1}/me", headers=bearer(page_token(response.text)))).status_code == 200


async def test_jit_creates_an_observer_and_later_logins_update_the_name(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, enable_jit_provisioning=True)
    idp.user_email, idp.user_attributes = "new.person@example.com", {"displayName": ["New Person"]}
    response = await post_form(fleet, (await through_idp(await initiate(fleet)))[1])
    assert response.status_code == 200, response.text
    me = (await fleet.client.get(f"{V1}/me", headers=bearer(page_token(response.text)))).json()["user"]
    assert (me["email"], me["name"], me["global_role"], me["sso_enabled"]) == (
        "new.person@example.com", "New Person", "observer", True)
    assert activity_types(fleet)[-2:] == ["user_added_by_sso", "user_logged_in"]
    idp.user_attributes = {"givenName": ["Newer"], "sn": ["Person"]}
    response = await post_form(fleet, (await through_idp(await initiate(fleet)))[1])
    me = (await fleet.client.get(f"{V1}/me", headers=bearer(page_token(response.text)))).json()["user"]
    assert me["name"] == "Newer Person"
    assert len([u for u in fleet.kit.store.state.users.values() if u.email == "new.person@example.com"]) == 1


async def test_jit_takes_the_role_the_idp_asserts(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, enable_jit_provisioning=True)
    idp.user_email = "maint@example.com"
    idp.user_attributes = {"name": ["Mae Maintainer"], "FLEET_JIT_USER_ROLE_GLOBAL": ["maintainer"]}
    response = await post_form(fleet, (await through_idp(await initiate(fleet)))[1])
    me = (await fleet.client.get(f"{V1}/me", headers=bearer(page_token(response.text)))).json()["user"]
    assert me["global_role"] == "maintainer"


# --- refusals: each row crafts a response for a login in progress (its request ID) and says the status
# and the reason; a new attack is one more row.

Craft = Callable[[SigningIdP, str], str]


def _signed(idp: SigningIdP, request_id: str, **options: Any) -> str:
    return idp.response(acs_url=ACS_URL, audience=ENTITY_ID, in_response_to=request_id, **options)


def _other_issuer(idp: SigningIdP, request_id: str) -> str:
    return attrs.evolve(idp, entity_id="https://evil.example.com").response(
        acs_url=ACS_URL, audience=ENTITY_ID, in_response_to=request_id)


NOW = dt.datetime.now(dt.UTC)
OTHER_ACS = "https://other.example.com/acs"
FORGED = "admin@example.com"

# (name, crafted response, status, what the refusal says)
REFUSALS: list[tuple[str, Craft, int, str]] = [
    ("unsigned", lambda idp, rid: _signed(idp, rid, sign="none"), 401, "No Signature found"),
    ("signed by another key", lambda idp, rid: _signed(idp, rid, keys=KeyPair.make("other")),
     401, "Signature validation failed"),
    ("response signed by another key",
     lambda idp, rid: _signed(idp, rid, sign="response", keys=KeyPair.make("other")),
     401, "Signature validation failed"),
    ("attribute tampered after signing", lambda idp, rid: tamper_attribute(_signed(idp, rid), "name", "Mallory"),
     401, "Signature validation failed"),
    ("NameID tampered after signing", lambda idp, rid: _signed(idp, rid).replace(SSO_EMAIL, FORGED),
     401, "Signature validation failed"),
    ("signature wrapping: a forged assertion around the signed one",
     lambda idp, rid: wrap_signed_assertion(_signed(idp, rid), forged_email=FORGED),
     401, "must contain 1 assertion"),
    ("signature moved to the response",
     lambda idp, rid: move_signature_to_response(_signed(idp, rid), forged_email=FORGED),
     401, "invalid Signed Element"),
    ("expired", lambda idp, rid: _signed(idp, rid, issued=NOW - dt.timedelta(hours=1)), 401, "expired"),
    ("not yet valid", lambda idp, rid: _signed(idp, rid, issued=NOW + dt.timedelta(hours=1)), 401, "not yet valid"),
    ("wrong audience",
     lambda idp, rid: idp.response(acs_url=ACS_URL, audience="https://other.example.com/saml", in_response_to=rid),
     401, "not a valid audience"),
    ("wrong destination", lambda idp, rid: _signed(idp, rid, destination=OTHER_ACS), 401, f"instead of {OTHER_ACS}"),
    ("wrong recipient",
     lambda idp, rid: idp.response(acs_url=OTHER_ACS, audience=ENTITY_ID, in_response_to=rid, destination=ACS_URL),
     401, "valid SubjectConfirmation was not found"),
    ("InResponseTo this server never issued", lambda idp, rid: _signed(idp, "ONELOGIN_never_issued"),
     401, "no login in progress"),
    ("another issuer", _other_issuer, 401, "Invalid issuer"),
    ("user not sso_enabled", lambda idp, rid: _signed(idp, rid, email="plain@example.com"),
     403, "does not log in with single sign-on"),
    ("unknown user without JIT", lambda idp, rid: _signed(idp, rid, email="stranger@example.com"),
     403, "just-in-time provisioning is off"),
    ("IdP-initiated while that is off", lambda idp, rid: _signed(idp, ""), 401, "IdP-initiated login is not enabled"),
]


@pytest.mark.parametrize(("craft", "status", "reason"),
                         [pytest.param(c, s, r, id=name) for name, c, s, r in REFUSALS])
async def test_refused_responses_leave_nothing_behind(fleet: Fleet, idp: SigningIdP, craft: Craft,
                                                      status: int, reason: str) -> None:
    await configured(fleet, idp)
    await add_sso_user(fleet)
    await add_sso_user(fleet, "plain@example.com", sso_enabled=False)
    idp_url = await initiate(fleet)
    request_id = re.sub(r"^.*\bID=\"([^\"]+)\".*$", r"\1", _authn_request_xml(idp_url), flags=re.S)
    before = Counts.of(fleet)
    response = await post_form(fleet, encode(craft(idp, request_id)))
    body = assert_error(response, status)
    assert reason in body["errors"][0]["reason"], body
    assert Counts.of(fleet) == before


def _authn_request_xml(idp_url: str) -> str:
    query = parse_qs(urlparse(idp_url).query)
    return zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()


async def test_a_replayed_assertion_is_refused(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, enable_sso_idp_login=True)
    await add_sso_user(fleet)
    unsolicited = encode(idp.response(acs_url=ACS_URL, audience=ENTITY_ID, assertion_id="_replayed1"))
    assert (await post_form(fleet, unsolicited)).status_code == 200
    before = Counts.of(fleet)
    assert_error(await post_form(fleet, unsolicited), 401)
    # Re-wrapped in a fresh response, the same assertion ID is still refused.
    rewrapped = encode(idp.response(acs_url=ACS_URL, audience=ENTITY_ID, assertion_id="_replayed1"))
    assert_error(await post_form(fleet, rewrapped), 401)
    assert Counts.of(fleet) == before


async def test_an_assertion_for_a_request_cannot_pass_as_idp_initiated(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, enable_sso_idp_login=True)
    await add_sso_user(fleet)
    request_id = re.sub(r"^.*\bID=\"([^\"]+)\".*$", r"\1", _authn_request_xml(await initiate(fleet)), flags=re.S)
    signed = _signed(idp, request_id)
    # The response wrapper (unsigned) loses its InResponseTo; the signed assertion still names it.
    stripped = signed.replace(f' InResponseTo="{request_id}"><saml:Issuer>', "><saml:Issuer>", 1)
    assert stripped != signed
    before = Counts.of(fleet)
    body = assert_error(await post_form(fleet, encode(stripped)), 401)
    assert "answers another request" in body["errors"][0]["reason"]
    assert Counts.of(fleet) == before


async def test_callback_bodies_that_are_not_saml(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, enable_sso_idp_login=True)
    assert_error(await post_form(fleet, ""), 400, "SAMLResponse")
    assert_error(await post_form(fleet, "not base64 at all!"), 401)
    assert_error(await post_form(fleet, encode("<not-saml/>")), 401)
    assert_error(await post_form(fleet, encode("<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>")), 401)
    assert_error(await fleet.client.post(f"{V1}/sso/callback", json={"SAMLResponse": 3}), 400, "SAMLResponse")
    assert_error(await fleet.client.post(f"{V1}/sso/callback", json={"SAMLResponse": ""}), 400, "SAMLResponse")
    assert_error(await fleet.client.post(f"{V1}/sso/callback", content=b"x", headers={"content-type": "text/plain"}),
                 400)


# --- settings


async def test_public_settings_show_the_idp(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, idp_image_url="https://idp.example.com/logo.png")
    response = await fleet.client.get(f"{V1}/sso")
    assert response.json() == {"settings": {"idp_name": "Test IdP", "idp_image_url": "https://idp.example.com/logo.png",
                                            "sso_enabled": True}}


@pytest.mark.parametrize(("settings", "field"), [
    ({"metadata": "<not xml"}, "metadata"),
    ({"metadata": "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>"}, "metadata"),
    ({"metadata": "<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>"}, "metadata"),
])
async def test_metadata_that_describes_no_idp_is_refused_on_save(fleet: Fleet, idp: SigningIdP,
                                                                 settings: dict[str, str], field: str) -> None:
    assert_error(await configure(fleet, idp, **settings), 422, field)
    assert (await fleet.client.get(f"{V1}/sso")).json()["settings"]["sso_enabled"] is False


async def test_metadata_without_a_certificate_or_endpoint_is_refused(fleet: Fleet, idp: SigningIdP) -> None:
    no_cert = re.sub(r"<md:KeyDescriptor.*?</md:KeyDescriptor>", "", idp.metadata(), flags=re.S)
    assert_error(await configure(fleet, idp, metadata=no_cert), 422, "metadata")
    no_sso = re.sub(r"<md:SingleSignOnService[^>]*/>", "", idp.metadata())
    assert_error(await configure(fleet, idp, metadata=no_sso), 422, "metadata")


async def test_metadata_url_failures_are_4xx_on_save(fleet: Fleet, idp: SigningIdP) -> None:
    idp.metadata_override = (404, b"gone")
    assert_error(await configure(fleet, idp, by_url=True), 422, "metadata_url")
    idp.metadata_override = (200, b"<x>" + b" " * (1024 * 1024 + 1) + b"</x>")
    assert_error(await configure(fleet, idp, by_url=True), 422, "metadata_url")
    idp.metadata_override = (200, b"<html>login page</html>")
    assert_error(await configure(fleet, idp, by_url=True), 422, "metadata_url")
    assert_error(await configure(fleet, idp, by_url=True, metadata_url="http://127.0.0.1:9/metadata"), 422,
                 "metadata_url")
    assert (await fleet.client.get(f"{V1}/sso")).json()["settings"]["sso_enabled"] is False


async def test_the_metadata_job_picks_up_a_rotated_key(fleet: Fleet, idp: SigningIdP) -> None:
    await configured(fleet, idp, by_url=True)
    await add_sso_user(fleet)
    fetched = idp.metadata_fetches
    idp.keys = KeyPair.make("rotated")
    # Until the job runs, the server trusts the key it fetched on save.
    _, saml_response = await through_idp(await initiate(fleet))
    assert_error(await post_form(fleet, saml_response), 401)
    await fleet.kit.services.sso.refresh_metadata()
    assert idp.metadata_fetches == fetched + 1
    _, saml_response = await through_idp(await initiate(fleet))
    assert (await post_form(fleet, saml_response)).status_code == 200
    # Saving the same settings again fetches at once.
    idp.keys = KeyPair.make("rotated again")
    await configured(fleet, idp, by_url=True)
    assert idp.metadata_fetches == fetched + 2
    _, saml_response = await through_idp(await initiate(fleet))
    assert (await post_form(fleet, saml_response)).status_code == 200
    # A failed fetch keeps what was fetched before.
    idp.metadata_override = (500, b"down")
    await fleet.kit.services.sso.refresh_metadata()
    _, saml_response = await through_idp(await initiate(fleet))
    assert (await post_form(fleet, saml_response)).status_code == 200


async def test_the_metadata_job_is_in_the_jobs_table(fleet: Fleet) -> None:
    assert "sso-metadata" in [job.name for job in fleet.kit.services.jobs]


@pytest.mark.parametrize("relay_url", ["https://evil.example.com/", "//evil.example.com/x", "hosts", "/\\evil", ""])
async def test_relay_urls_must_stay_on_this_server(fleet: Fleet, idp: SigningIdP, relay_url: str) -> None:
    await configured(fleet, idp)
    assert_error(await fleet.client.post(f"{V1}/sso", json={"relay_url": relay_url}), 422, "relay_url")


async def test_sp_metadata_names_the_entity_and_acs_url(fleet: Fleet, idp: SigningIdP) -> None:
    assert_error(await fleet.client.get(f"{V1}/sso/metadata"), 400)
    await configured(fleet, idp)
    response = await fleet.client.get(f"{V1}/sso/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    assert f'entityID="{ENTITY_ID}"' in response.text
    assert f'Location="{ACS_URL}"' in response.text


async def test_only_admins_change_sso_settings(fleet: Fleet, idp: SigningIdP) -> None:
    observer = await fleet.create_user(global_role="observer")
    response = await fleet.client.patch(f"{V1}/config", headers=observer.headers, json={"sso_settings": {
        "enable_sso": True, "entity_id": ENTITY_ID, "idp_name": "x", "metadata": idp.metadata()}})
    assert_error(response, 403)
