"""SAML 2.0 single sign-on over python3-saml (fleet_core.ports.SAMLServiceProvider)."""

from fleet_adapters.saml.provider import OneLoginServiceProvider

__all__ = ["OneLoginServiceProvider"]
