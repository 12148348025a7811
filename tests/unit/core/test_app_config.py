"""Changing the app configuration: typed merge, masking, validation."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.errors import BadRequest, InvalidArgument
from fleet_core.model.config import MASKED_PASSWORD, AppConfig, OrgInfo, SMTPSettings
from fleet_core.rules.app_config import (
    apply_patch,
    config_problems,
    keep_masked_secrets,
    mask_secrets,
    validate_config,
)

VALID = AppConfig(org_info=OrgInfo(org_name="Acme"))

smtp_patches = st.fixed_dictionaries({}, optional={
    "server": st.text(max_size=10), "port": st.integers(1, 65535), "enable_ssl_tls": st.booleans(),
    "user_name": st.text(max_size=5), "password": st.text(max_size=5),
})
patches = st.fixed_dictionaries({}, optional={
    "org_info": st.fixed_dictionaries(
        {}, optional={"org_name": st.text(max_size=8), "org_logo_url": st.text(max_size=8)}),
    "smtp_settings": smtp_patches,
    "host_expiry_settings": st.fixed_dictionaries({}, optional={
        "host_expiry_enabled": st.booleans(), "host_expiry_window": st.integers(0, 90)}),
    "agent_options": st.one_of(st.none(), st.fixed_dictionaries({"config": st.just({"options": {}})})),
})


def test_an_empty_patch_changes_nothing() -> None:
    assert apply_patch(VALID, {}) == VALID


@given(patch=patches)
def test_every_field_patched_reads_back_and_the_rest_is_kept(patch: dict[str, Any]) -> None:
    updated = apply_patch(VALID, patch)
    for section, fields in patch.items():
        value = getattr(updated, section)
        if isinstance(fields, dict) and attrs.has(type(value)):
            for name, new in fields.items():
                assert getattr(value, name) == new
            untouched = set(attrs.fields_dict(type(value))) - set(fields)
            assert all(getattr(value, n) == getattr(getattr(VALID, section), n) for n in untouched)
        else:
            assert value == fields
    for section in set(attrs.fields_dict(AppConfig)) - set(patch):
        assert getattr(updated, section) == getattr(VALID, section)


@given(patch=patches)
def test_applying_a_patch_twice_is_the_same_as_once(patch: dict[str, Any]) -> None:
    once = apply_patch(VALID, patch)
    assert apply_patch(once, patch) == once


def test_numeric_strings_are_numbers_as_in_fleets_own_example() -> None:
    assert apply_patch(VALID, {"smtp_settings": {"port": "1025"}}).smtp_settings.port == 1025


@pytest.mark.parametrize(("patch", "field"), [
    ({"org_info": {"org_name": 5}}, "org_info.org_name"),
    ({"smtp_settings": {"enable_smtp": "yes"}}, "smtp_settings.enable_smtp"),
    ({"smtp_settings": {"port": "many"}}, "smtp_settings.port"),
    ({"org_info": "Acme"}, "org_info"),
    ({"no_such_section": {}}, "no_such_section"),
    ({"server_settings": {"no_such_field": 1}}, "server_settings.no_such_field"),
    ({"webhook_settings": {"failing_policies_webhook": {"policy_ids": ["a"]}}},
     "webhook_settings.failing_policies_webhook.policy_ids[0]"),
])
def test_wrong_types_and_unknown_keys_name_the_field(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        apply_patch(VALID, patch)
    assert caught.value.name == field


def test_read_only_sections_echoed_back_from_get_are_ignored() -> None:
    assert apply_patch(VALID, {"license": {"tier": "premium"}, "logging": {}}) == VALID


@given(password=st.text(min_size=1, max_size=10))
def test_echoing_the_mask_keeps_the_stored_password(password: str) -> None:
    stored = attrs.evolve(VALID, smtp_settings=SMTPSettings(password=password))
    shown = mask_secrets(stored)
    assert shown.smtp_settings.password == MASKED_PASSWORD
    assert keep_masked_secrets(stored, shown) == stored


def test_validation_names_each_offending_field() -> None:
    config = apply_patch(AppConfig(), {
        "smtp_settings": {"enable_smtp": True},
        "host_expiry_settings": {"host_expiry_enabled": True, "host_expiry_window": 0},
        "server_settings": {"server_url": "not a url"},
    })
    names = [name for name, _ in config_problems(config)]
    assert names == ["org_name", "server_url", "server", "sender_address", "user_name", "password",
                     "host_expiry_window"]
    with pytest.raises(InvalidArgument):
        validate_config(config)
    assert config_problems(VALID) == []
