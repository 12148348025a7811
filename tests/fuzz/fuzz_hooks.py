"""Schemathesis hooks: the fuzzer never aims at its own account.

Without this, one early `POST /users/1/require_password_reset` (or a delete, a demotion, a
session revocation of user 1) turns every later request into a 401, and the rest of the run tests
nothing. Such a request is sent to an id nobody has instead; the
routes stay fuzzed with every other id. The in-process slice fills OWN itself; for
`schemathesis run` (tests/fuzz/run.py) it comes from the environment, as SCHEMATHESIS_HOOKS loads
this module in that process.
"""

from __future__ import annotations

import os
from typing import Any, Final

import schemathesis

# Path parameter name -> the values that identify the fuzzer's own account.
OWN: Final[dict[str, set[Any]]] = {"user_id": set(), "session_id": set()}
USER_ENV: Final = "FUZZ_OWN_USER_ID"
SESSIONS_ENV: Final = "FUZZ_OWN_SESSION_IDS"

if os.environ.get(USER_ENV):
    OWN["user_id"].add(int(os.environ[USER_ENV]))
for _session in filter(None, os.environ.get(SESSIONS_ENV, "").split(",")):
    OWN["session_id"].add(int(_session))


# An id no account or session has; the request still runs (and gets its 404).
ELSEWHERE: Final = 2**31 - 1


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # before_call sees every request of every phase (coverage, fuzzing, stateful), where filters
    # on generation do not.
    parameters = case.path_parameters
    if not parameters:
        return
    for name, values in OWN.items():
        if name in parameters and _as_int(parameters[name]) in values:
            parameters[name] = ELSEWHERE


def _as_int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
