"""Who a verified SAML assertion names, the JIT role, and which relay URLs a login accepts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.users import Role
from fleet_core.rules.sso import assertion_email, assertion_name, jit_role, relay_url_problem


def test_the_email_is_the_name_id_when_it_is_one_else_an_email_attribute() -> None:
    assert assertion_email("sam@example.com", {"email": ("other@example.com",)}) == "sam@example.com"
    assert assertion_email("00u1abcd", {"Email": ("sam@example.com",)}) == "sam@example.com"
    claim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    assert assertion_email("S-1-5-21", {claim: ("", "sam@example.com")}) == "sam@example.com"
    assert assertion_email("00u1abcd", {"email": ("not an address",)}) == ""
    assert assertion_email("00u1abcd", {}) == ""


def test_the_name_comes_from_a_display_name_then_given_and_surname_then_the_email() -> None:
    assert assertion_name("sam@example.com", {"displayName": ("Sam Single",), "givenName": ("X",)}) == "Sam Single"
    assert assertion_name("sam@example.com", {"givenName": ("Sam",), "sn": ("Single",)}) == "Sam Single"
    assert assertion_name("sam@example.com", {"urn:oid:2.5.4.42": ("Sam",)}) == "Sam"
    assert assertion_name("sam@example.com", {"name": ("  ",)}) == "sam"


@given(st.text(max_size=300))
def test_a_name_is_never_longer_than_a_user_name_may_be(name: str) -> None:
    assert len(assertion_name("sam@example.com", {"name": (name,)})) <= 255


def test_the_jit_role_is_observer_unless_the_idp_names_a_role() -> None:
    assert jit_role({}) == Role.OBSERVER
    assert jit_role({"FLEET_JIT_USER_ROLE_GLOBAL": ("maintainer",)}) == Role.MAINTAINER
    assert jit_role({"FLEET_JIT_USER_ROLE_GLOBAL": ("root",)}) == Role.OBSERVER


@given(st.text(max_size=60))
def test_an_accepted_relay_url_is_a_path_on_this_server(relay_url: str) -> None:
    if relay_url_problem(relay_url) is None:
        assert relay_url.startswith("/") and not relay_url.startswith("//")
        assert "\\" not in relay_url and all(ord(c) >= 0x20 for c in relay_url)


def test_relay_urls_that_leave_the_server_are_refused() -> None:
    for url in ("https://evil.example.com", "//evil.example.com", "/\\evil.example.com", "hosts", "", "/a\nb"):
        assert relay_url_problem(url) is not None, url
    for url in ("/", "/hosts/manage", "/queries/3?tab=results#x"):
        assert relay_url_problem(url) is None, url
