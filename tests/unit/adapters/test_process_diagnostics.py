"""The process diagnostics behind /debug/pprof: the command line never shows a credential, and
the stack dump, heap statistics and CPU profile describe this very process."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.process_diagnostics import REDACTED, PythonProcessDiagnostics, redacted_argv
from fleet_core.errors import Conflict

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("argv", "shown"), [
    (["fleet", "serve", "--database-url", "postgresql://fleet:hunter2@db/fleet"],
     ["fleet", "serve", "--database-url", REDACTED]),
    (["fleet", "serve", "--redis-url=redis://:hunter2@cache:6379/0"], ["fleet", "serve", f"--redis-url={REDACTED}"]),
    (["fleet", "serve", "--server-private-key", "hunter2", "--tls"],
     ["fleet", "serve", "--server-private-key", REDACTED, "--tls"]),
    (["fleet", "serve", "--smtp-password", "--tls"], ["fleet", "serve", "--smtp-password", "--tls"]),
    (["fleet", "postgresql://fleet:hunter2@db/fleet"], ["fleet", f"postgresql://fleet:{REDACTED}@db/fleet"]),
    (["fleet", "serve", "--logging-json", "--listen", "0.0.0.0:8080"],
     ["fleet", "serve", "--logging-json", "--listen", "0.0.0.0:8080"]),
])
def test_the_command_line_hides_credentials(argv: list[str], shown: list[str]) -> None:
    assert redacted_argv(argv) == shown
    assert all("hunter2" not in arg for arg in redacted_argv(argv))


async def test_stacks_name_every_task_and_thread() -> None:
    release = asyncio.Event()

    async def parked_in_a_recognisable_place() -> None:
        await release.wait()

    task = asyncio.create_task(parked_in_a_recognisable_place(), name="parked")
    await asyncio.sleep(0)
    text = PythonProcessDiagnostics().stacks().body
    release.set()
    await task
    assert "task 'parked' (pending)" in text
    parked = text.split("task 'parked' (pending)\n", 1)[1].split("\n\n", 1)[0]
    # The whole await chain, down to where it waits inside asyncio.
    assert "in parked_in_a_recognisable_place" in parked and "await release.wait()" in parked
    assert "asyncio/locks.py" in parked
    assert "thread 'MainThread'" in text


def test_heap_shows_allocation_sites_when_tracing() -> None:
    diagnostics = PythonProcessDiagnostics()
    assert "tracemalloc is not tracing" in diagnostics.heap().body
    tracemalloc.start()
    try:
        body = diagnostics.heap().body
    finally:
        tracemalloc.stop()
    assert "top allocation sites" in body and "traced memory" in body


async def test_the_profile_sees_work_done_by_other_tasks_and_one_profile_runs_at_a_time() -> None:
    diagnostics = PythonProcessDiagnostics()
    stop = asyncio.Event()

    def distinctively_named_busy_work() -> int:
        return sum(i * i for i in range(20_000))

    async def busy() -> None:
        while not stop.is_set():
            distinctively_named_busy_work()
            await asyncio.sleep(0)

    worker = asyncio.create_task(busy())
    profile = asyncio.create_task(diagnostics.cpu_profile(0.3))
    await asyncio.sleep(0)
    with pytest.raises(Conflict):
        await diagnostics.cpu_profile(0.1)
    document = await profile
    stop.set()
    await worker
    assert document.content_type.startswith("text/plain")
    assert "distinctively_named_busy_work" in document.body


SECRETS = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]) | st.sampled_from("!$%^&*()_-+=~@:/"),
                  min_size=8, max_size=30)
OPTIONS = st.sampled_from(["--database-url", "--redis-url", "--smtp-password", "--jwt-key", "--enroll-secret",
                           "--api-token"])


@given(secret=SECRETS, option=OPTIONS, inline=st.booleans(), scheme=st.sampled_from(["postgresql", "redis", "smtp"]))
def test_no_credential_survives_in_any_spelling(secret: str, option: str, inline: bool, scheme: str) -> None:
    url = f"{scheme}://user:{secret}@host:1234/db"
    forms = [[f"{option}={secret}"], [option, secret], [f"--other={url}"], ["--other", url], [url]]
    for form in forms:
        shown = redacted_argv(["fleet", "serve", *form, "--tls"]) if inline else redacted_argv(["fleet", *form])
        assert all(secret not in arg for arg in shown), (form, shown)
