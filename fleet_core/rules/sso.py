"""Who a verified SAML assertion names, and which return addresses an SSO login accepts."""

from __future__ import annotations

from collections.abc import Mapping

from fleet_core.model.users import Role
from fleet_core.rules.passwords import is_valid_email

# The attribute names IdPs use for an email address and a display name: the plain names most set
# up by hand, the LDAP OIDs (urn:oid) and the WS-Federation claim URIs of Entra ID / ADFS.
EMAIL_ATTRIBUTES = (
    "email", "mail", "emailaddress", "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
NAME_ATTRIBUTES = (
    "name", "displayname", "fullname", "cn", "urn:oid:2.16.840.1.113730.3.1.241", "urn:oid:2.5.4.3",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)
GIVEN_NAME_ATTRIBUTES = ("givenname", "firstname", "urn:oid:2.5.4.42",
                         "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname")
SURNAME_ATTRIBUTES = ("sn", "surname", "lastname", "familyname", "urn:oid:2.5.4.4",
                      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname")
# Fleet's attribute for the global role of a user created just in time.
JIT_ROLE_ATTRIBUTE = "FLEET_JIT_USER_ROLE_GLOBAL"
MAX_NAME_LENGTH = 255


def _first(attributes: Mapping[str, tuple[str, ...]], names: tuple[str, ...]) -> str:
    by_name = {key.casefold(): values for key, values in attributes.items()}
    for name in names:
        for value in by_name.get(name.casefold(), ()):
            if value.strip():
                return value.strip()
    return ""


def assertion_email(name_id: str, attributes: Mapping[str, tuple[str, ...]]) -> str:
    """The user's email: the NameID when it is one (Fleet's rule), else an email attribute; ""
    when neither names an address."""
    if is_valid_email(name_id.strip()):
        return name_id.strip()
    email = _first(attributes, EMAIL_ATTRIBUTES)
    return email if is_valid_email(email) else ""


def assertion_name(email: str, attributes: Mapping[str, tuple[str, ...]]) -> str:
    """The user's full name from the attributes (a display name, else given name and surname),
    else the part of the email before the @; never longer than a user's name may be."""
    name = _first(attributes, NAME_ATTRIBUTES)
    if not name:
        name = " ".join(p for p in (_first(attributes, GIVEN_NAME_ATTRIBUTES),
                                    _first(attributes, SURNAME_ATTRIBUTES)) if p)
    return (name or email.partition("@")[0])[:MAX_NAME_LENGTH]


def jit_role(attributes: Mapping[str, tuple[str, ...]]) -> Role:
    """The global role of a user created just in time: the IdP's FLEET_JIT_USER_ROLE_GLOBAL
    when it names a role, observer otherwise."""
    value = _first(attributes, (JIT_ROLE_ATTRIBUTE,))
    try:
        return Role(value)
    except ValueError:
        return Role.OBSERVER


def relay_url_problem(relay_url: str) -> str | None:
    """Why a relay URL is refused, or None: it must be a path on this server, so a login cannot
    be made to hand its session to another site (an open redirect)."""
    if not relay_url.startswith("/"):
        return "must be a relative URL starting with /"
    if relay_url.startswith("//") or "\\" in relay_url or any(ord(c) < 0x20 for c in relay_url):
        return "must be a path on this server"
    if len(relay_url) > 2048:
        return "is too long"
    return None
