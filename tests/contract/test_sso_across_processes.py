"""SSO on the real backends: a login started by one server process is finished by another (two
open_services over one Postgres and one Redis), and a replay at either is refused."""

from __future__ import annotations

import pytest

from fleet_adapters.bootstrap import open_services
from fleet_adapters.settings import Settings
from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services.setup import SetupInput
from fleet_core.services.users import UserInput
from tests.http.sso_test_idp import SigningIdP

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct-Horse-7-battery"


async def test_a_login_started_in_one_process_finishes_in_another(pg_dsn: str, redis_url: str) -> None:
    settings = Settings(database_url=pg_dsn, redis_url=redis_url, server_tls=False)
    with SigningIdP(user_email="sam@example.test").serve() as idp:
        async with open_services(settings, runtime=ServerRuntime()) as first, \
                open_services(settings, runtime=ServerRuntime()) as second:
            setup = await first.setup.setup(SetupInput(
                name="Admin", email="admin@example.test", password=PASSWORD, password_confirmation=PASSWORD,
                org_name="Example", server_url="https://fleet.example.test"))
            admin = Viewer(user=setup.admin)
            await first.config.modify(admin, {"sso_settings": {
                "enable_sso": True, "entity_id": "https://fleet.example.test/saml", "idp_name": "Test IdP",
                "metadata_url": f"{idp.base_url}/metadata"}})
            user = await first.users.create(admin, UserInput(name="Sam", email="sam@example.test",
                                                             global_role="observer", sso_enabled=True))
            idp_url = await first.sso.initiate("/hosts/manage")
            acs_url, saml_response = idp.login(idp_url)
            assert acs_url == "https://fleet.example.test/api/v1/fleet/sso/callback"
            login = await second.sso.callback(saml_response, remote_addr="192.0.2.9")
            assert (login.user.id, login.relay_url) == (user.id, "/hosts/manage")
            assert (await first.auth.authenticate(login.token)).user.id == user.id
            for services in (first, second):
                with pytest.raises(AuthFailed):
                    await services.sso.callback(saml_response)
