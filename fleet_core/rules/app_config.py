"""Rules for changing the app configuration: a typed, section-wise merge, then validation.

`PATCH /config` sends only the sections and fields it changes. Each field present replaces the
stored value; nested sections merge field by field; `agent_options`, lists and free-form objects
are replaced whole, as Fleet does.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union
from urllib.parse import urlparse

import attrs

from fleet_core.errors import BadRequest, InvalidArgument
from fleet_core.model.config import MASKED_PASSWORD, AppConfig
from fleet_core.rules import integrations

C = TypeVar("C")

# Keys Fleet renders in GET /config but computes from the server's own settings.
READ_ONLY_SECTIONS = frozenset({"license", "logging", "update_interval", "vulnerabilities"})
AGENT_OPTIONS_KEYS = frozenset({"config", "overrides", "command_line_flags", "extensions", "script_execution_timeout"})


class PatchTypeError(BadRequest):
    """A patch field has the wrong JSON type; names the field with its dotted path."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason, name=field)


def apply_patch(current: C, patch: Mapping[str, Any], *, path: str = "") -> C:
    """Return ``current`` with the fields of ``patch`` merged in, checking JSON types."""
    if not attrs.has(type(current)):
        raise TypeError("apply_patch merges attrs instances")
    hints = typing.get_type_hints(type(current))
    changes: dict[str, Any] = {}
    for key, value in patch.items():
        name = f"{path}{key}"
        if key not in hints:
            if not path and key in READ_ONLY_SECTIONS:
                continue
            raise PatchTypeError(name, "unsupported key provided")
        changes[key] = _merge_value(getattr(current, key), value, hints[key], name)
    return attrs.evolve(current, **changes)  # type: ignore[misc]


def _merge_value(current: Any, value: Any, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        hint = options[0]
        origin = typing.get_origin(hint)
    if attrs.has(hint):
        if not isinstance(value, Mapping):
            raise PatchTypeError(name, "must be an object")
        return apply_patch(current if attrs.has(type(current)) else hint(), value, path=f"{name}.")
    if hint is bool:
        if not isinstance(value, bool):
            raise PatchTypeError(name, "must be a boolean")
        return value
    if hint is int or hint is float:
        return _number(value, hint, name)
    if hint is str:
        if not isinstance(value, str):
            raise PatchTypeError(name, "must be a string")
        return value
    if origin is list or hint is list:
        if not isinstance(value, list):
            raise PatchTypeError(name, "must be an array")
        (item_hint,) = typing.get_args(hint) or (Any,)
        if attrs.has(item_hint):
            # Each element is a whole new object: the fields not sent take their defaults.
            items = []
            for i, item in enumerate(value):
                if not isinstance(item, Mapping):
                    raise PatchTypeError(f"{name}[{i}]", "must be an object")
                items.append(apply_patch(item_hint(), item, path=f"{name}[{i}]."))
            return items
        if item_hint is int:
            return [_number(v, int, f"{name}[{i}]") for i, v in enumerate(value)]
        if typing.get_origin(item_hint) is dict and not all(isinstance(v, Mapping) for v in value):
            raise PatchTypeError(name, "must be an array of objects")
        return value
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise PatchTypeError(name, "must be an object")
        return dict(value)
    raise TypeError(f"unsupported config field type {hint!r}")


def _number(value: Any, hint: type, name: str) -> Any:
    # Fleet's own example sends the SMTP port as the string "1025"; accept numeric strings.
    if isinstance(value, bool):
        raise PatchTypeError(name, "must be a number")
    if isinstance(value, str):
        try:
            value = float(value) if hint is float else int(value)
        except ValueError:
            raise PatchTypeError(name, "must be a number") from None
    if hint is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int if hint is int else (int, float)):
        raise PatchTypeError(name, "must be a number")
    return value


def keep_masked_secrets(previous: AppConfig, updated: AppConfig) -> AppConfig:
    """A client that echoes back GET /config sends the mask; that must not become the password."""
    if updated.smtp_settings.password == MASKED_PASSWORD:
        updated = attrs.evolve(
            updated,
            smtp_settings=attrs.evolve(updated.smtp_settings, password=previous.smtp_settings.password),
        )
    return attrs.evolve(updated, integrations=integrations.keep_stored_tokens(previous.integrations,
                                                                               updated.integrations))


def mask_secrets(config: AppConfig) -> AppConfig:
    """Fleet always shows the mask, set or not, so the output never tells whether one is stored."""
    return attrs.evolve(config, smtp_settings=attrs.evolve(config.smtp_settings, password=MASKED_PASSWORD),
                        integrations=integrations.masked(config.integrations))


def config_problems(config: AppConfig) -> list[tuple[str, str]]:
    """Every rule the configuration breaks, as (field, reason) pairs."""
    problems: list[tuple[str, str]] = []
    if not config.org_info.org_name.strip():
        problems.append(("org_name", "organization name must be present"))
    if config.server_settings.server_url and not _is_url(config.server_settings.server_url):
        problems.append(("server_url", "must be a valid URL with scheme and host"))
    smtp = config.smtp_settings
    if smtp.enable_smtp:
        if not smtp.server:
            problems.append(("server", "SMTP server must be set when SMTP is enabled"))
        if not smtp.sender_address:
            problems.append(("sender_address", "must be set when SMTP is enabled"))
        if not 0 < smtp.port < 65536:
            problems.append(("port", "must be between 1 and 65535"))
        if smtp.authentication_type not in ("authtype_username_password", "authtype_none"):
            problems.append(("authentication_type", "must be authtype_username_password or authtype_none"))
        if smtp.authentication_type == "authtype_username_password":
            if not smtp.user_name:
                problems.append(("user_name", "SMTP username cannot be empty"))
            if not smtp.password:
                problems.append(("password", "SMTP password cannot be empty"))
        if smtp.authentication_method not in ("authmethod_plain", "authmethod_cram_md5", "authmethod_login"):
            problems.append(
                ("authentication_method", "must be authmethod_plain, authmethod_cram_md5 or authmethod_login"))
    sso = config.sso_settings
    if sso.enable_sso:
        if not sso.metadata and not sso.metadata_url:
            problems.append(("metadata", "either metadata or metadata_url must be defined"))
        if sso.metadata_url and not _is_url(sso.metadata_url):
            problems.append(("metadata_url", "must be a valid URL"))
        if len(sso.entity_id) < 5:
            problems.append(("entity_id", "must be 5 or more characters"))
        if not sso.idp_name:
            problems.append(("idp_name", "required"))
    expiry = config.host_expiry_settings
    if expiry.host_expiry_enabled and expiry.host_expiry_window <= 0:
        problems.append(("host_expiry_window", "must be greater than 0 if host_expiry_enabled is true"))
    hooks = config.webhook_settings
    if hooks.host_status_webhook.enable_host_status_webhook:
        hs = hooks.host_status_webhook
        if not _is_url(hs.destination_url):
            problems.append(("destination_url", "host status webhook destination_url must be a valid URL"))
        if hs.host_percentage <= 0:
            problems.append(("host_percentage", "must be greater than 0"))
        if hs.days_count <= 0:
            problems.append(("days_count", "must be greater than 0"))
    for hook_name, enabled, url, batch in (
        ("failing_policies_webhook", hooks.failing_policies_webhook.enable_failing_policies_webhook,
         hooks.failing_policies_webhook.destination_url, hooks.failing_policies_webhook.host_batch_size),
        ("vulnerabilities_webhook", hooks.vulnerabilities_webhook.enable_vulnerabilities_webhook,
         hooks.vulnerabilities_webhook.destination_url, hooks.vulnerabilities_webhook.host_batch_size),
    ):
        if enabled and not _is_url(url):
            problems.append(("destination_url", f"{hook_name} destination_url must be a valid URL"))
        if batch < 0:
            problems.append(("host_batch_size", f"{hook_name} host_batch_size must be 0 or greater"))
    problems.extend(integrations.integration_problems(config))
    if config.agent_options is not None:
        problems.extend(agent_options_problems(config.agent_options))
    return problems


def agent_options_problems(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with an agent options object (global or a team's)."""
    problems = []
    unknown = sorted(set(options) - AGENT_OPTIONS_KEYS)
    if unknown:
        problems.append(("agent_options", f"unknown key(s): {', '.join(unknown)}"))
    for section in ("config", "overrides", "command_line_flags"):
        value = options.get(section)
        if value is not None and not isinstance(value, Mapping):
            problems.append((f"agent_options.{section}", "must be an object"))
    return problems


def validate_config(config: AppConfig) -> None:
    problems = config_problems(config)
    if problems:
        raise InvalidArgument(*problems)


def _is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)
