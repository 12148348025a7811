"""AppConfigRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import attrs
import pytest

from fleet_core.model.config import (
    AppConfig,
    FailingPoliciesWebhook,
    Features,
    HostStatusWebhook,
    Integrations,
    JiraIntegration,
    OrgInfo,
    SMTPSettings,
    WebhookSettings,
)
from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio


def customised() -> AppConfig:
    """A configuration that differs from the defaults in every kind of field."""
    return AppConfig(
        org_info=OrgInfo(org_name="Acme", org_logo_url="https://acme.example/logo.png"),
        smtp_settings=SMTPSettings(enable_smtp=True, server="smtp.acme.example", port=2525,
                                   user_name="mailer", password="s3cret", enable_ssl_tls=False),
        features=Features(enable_host_users=False, additional_queries={"time": "SELECT * FROM time"}),
        agent_options={"config": {"options": {"distributed_interval": 3}}, "overrides": {
            "platforms": {"darwin": {"options": {"logger_tls_period": 60}}}}},
        webhook_settings=WebhookSettings(
            host_status_webhook=HostStatusWebhook(enable_host_status_webhook=True, host_percentage=12.5,
                                                  destination_url="https://hooks.example/h", days_count=3),
            failing_policies_webhook=FailingPoliciesWebhook(policy_ids=[3, 1, 2]),
            interval="1h0m0s",
        ),
        integrations=Integrations(jira=[JiraIntegration(url="https://jira.example", username="ops@example.com",
                                                         api_token="tok", project_key="OPS")]),
    )


async def test_defaults_come_back_before_anything_was_saved(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.app_config.get() == AppConfig()
        assert await uow.app_config.lock() == AppConfig()


async def test_a_saved_configuration_comes_back_whole(uow_factory: UnitOfWorkFactory) -> None:
    config = customised()
    async with uow_factory() as uow:
        await uow.app_config.save(config)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.app_config.get() == config
        assert await uow.app_config.lock() == config


async def test_save_replaces_the_previous_configuration(uow_factory: UnitOfWorkFactory) -> None:
    replacement = AppConfig(org_info=OrgInfo(org_name="Second"), agent_options=None)
    async with uow_factory() as uow:
        await uow.app_config.save(customised())
        await uow.app_config.save(replacement)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.app_config.get() == replacement


async def test_an_uncommitted_save_is_forgotten(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.app_config.lock()
        await uow.app_config.save(customised())

    async with uow_factory() as uow:
        assert await uow.app_config.get() == AppConfig()


@pytest.mark.parametrize("saved_before", [False, True], ids=["first-save", "existing-row"])
async def test_lock_serialises_read_modify_write_cycles(
    uow_factory: UnitOfWorkFactory, wait_for_lock_waiter: Callable[[], Awaitable[None]], saved_before: bool
) -> None:
    if saved_before:
        async with uow_factory() as uow:
            await uow.app_config.save(AppConfig())
            await uow.commit()

    async def append(config: AppConfig, suffix: str) -> AppConfig:
        return attrs.evolve(config, org_info=attrs.evolve(config.org_info,
                                                          org_name=config.org_info.org_name + suffix))

    async def second_writer() -> None:
        async with uow_factory() as uow:
            config = await uow.app_config.lock()
            await uow.app_config.save(await append(config, "B"))
            await uow.commit()

    async with anyio.create_task_group() as tg:
        async with uow_factory() as first:
            config = await first.app_config.lock()
            tg.start_soon(second_writer)
            # The second writer has read nothing yet: it waits for our lock.
            await wait_for_lock_waiter()
            await first.app_config.save(await append(config, "A"))
            await first.commit()

    async with uow_factory() as uow:
        assert (await uow.app_config.get()).org_info.org_name == "AB"
