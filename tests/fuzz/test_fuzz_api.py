"""A short deterministic slice of `make fuzz`: schemathesis over the served OpenAPI document,
against both APIs in-process over the in-memory kit, logged in as the first admin.

Any server error, or any response the document does not describe, fails the operation's test.
The seed is fixed and hypothesis is derandomized, so a failure here is the same failure on every
run; `make fuzz` runs the same checks for minutes against a real `fleet serve`.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from fleet_adapters.memory import in_memory_kit
from fleet_http.app import create_app as create_management_app
from fleet_osquery.app import create_app as create_osquery_app
from fleet_osquery.app import openapi_paths
from tests.fuzz import fuzz_hooks
from tests.fuzz.fuzz_support import CHECKS, DOCUMENT, LEFT_OUT, BothApis

SEED: Final = 20261204
# Per operation and generation mode: about 120 operations, so a few thousand requests in all.
EXAMPLES: Final = 8
ADMIN: Final = {"email": "fuzz-admin@example.com", "password": "correct-horse-9!battery", "name": "Fuzz Admin"}

_kit = in_memory_kit()
_services = lambda: contextlib.nullcontext(_kit.services)  # noqa: E731
APP: Final = BothApis(create_management_app(_services, also_documented=openapi_paths), create_osquery_app(_services))

_config = SchemathesisConfig.from_dict({
    "seed": SEED,
    "generation": {"max-examples": EXAMPLES, "mode": "all"},
    # The examples phase has nothing to use (the document carries no examples); the stateful
    # phase follows links the document does not declare.
    "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_asgi(DOCUMENT, APP, config=_config)
for method, path in LEFT_OUT:
    schema = schema.exclude(method=method, path=path)
# /api/latest and /api/osquery are the same handlers as /api/v1 and /api/v1/osquery: the slice
# fuzzes each handler once (`make fuzz` covers every path).
schema = schema.exclude(path_regex=r"^/api/(latest|osquery)/")


class _Session:
    """The admin's bearer token, set up on first use and renewed if a fuzzed call revoked it."""

    token: str | None = None

    def headers(self) -> dict[str, str]:
        client = asgi.get_client(APP)
        if self.token is not None:
            me = client.get(f"http://{asgi.HOST}/api/v1/fleet/me", headers=self._bearer())
            if me.status_code == 200:
                return self._bearer()
        setup = client.post(f"http://{asgi.HOST}/api/v1/setup", json={
            "admin": {**ADMIN, "password_confirmation": ADMIN["password"]},
            "org_info": {"org_name": "Fuzz"}, "server_url": "https://fleet.example.com"})
        if setup.status_code == 200:
            self.token = setup.json()["token"]
        else:
            login = client.post(f"http://{asgi.HOST}/api/v1/fleet/login",
                                json={"email": ADMIN["email"], "password": ADMIN["password"]})
            assert login.status_code == 200, login.text
            self.token = login.json()["token"]
        me = client.get(f"http://{asgi.HOST}/api/v1/fleet/me", headers=self._bearer()).json()["user"]
        fuzz_hooks.OWN["user_id"].add(me["id"])
        sessions = client.get(f"http://{asgi.HOST}/api/v1/fleet/users/{me['id']}/sessions", headers=self._bearer())
        fuzz_hooks.OWN["session_id"].update(session["session_id"] for session in sessions.json()["sessions"])
        return self._bearer()

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


_session = _Session()


@schema.parametrize()
@settings(derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_no_server_error_and_no_response_the_document_does_not_describe(case: Any) -> None:
    case.call_and_validate(headers=_session.headers(), checks=CHECKS)
