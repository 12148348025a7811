"""The LogDestination contract, over the recording fake and real files; plus stdout and the factory."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio
import attrs
import pytest

from fleet_adapters.logs import (
    FilesystemLogDestination,
    NullLogDestination,
    SplitLogDestination,
    StdoutLogDestination,
    log_destination,
)
from fleet_adapters.memory.logs import RecordingLogDestination
from fleet_core.errors import Unavailable
from fleet_core.ports import LogDestination

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESS_DEADLINE = 60.0


def record(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


BACKUP = re.compile(r"\.(\d+)(\.gz)?$")


def lines_of(path: Path) -> list[bytes]:
    """Every line of a log file and its backups, oldest first; no file may end in a partial line."""
    backups = {
        int(match.group(1)): file
        for file in path.parent.glob(path.name + ".*")
        if (match := BACKUP.fullmatch(file.name[len(path.name) :]))
    }
    files = [backups[number] for number in sorted(backups, reverse=True)]
    if path.exists():
        files.append(path)
    out: list[bytes] = []
    for file in files:
        data = gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes()
        if data:
            assert data.endswith(b"\n"), f"{file.name} ends in a partial line"
            out.extend(data.split(b"\n")[:-1])
    return out


@attrs.frozen
class Harness:
    destination: LogDestination
    read: Callable[[str], list[bytes]]
    # Make the next writes fail the way a full disk would, and make room again.
    break_it: Callable[[], None]
    fix_it: Callable[[], None]


@pytest.fixture(params=["memory", "filesystem"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "memory":
        memory = RecordingLogDestination()

        def fail() -> None:
            memory.failing = True

        def recover() -> None:
            memory.failing = False

        return Harness(memory, memory.records, fail, recover)
    paths = {"result": tmp_path / "result.log", "status": tmp_path / "status.log"}
    files = FilesystemLogDestination(paths["result"], paths["status"])

    def full_disk() -> None:
        for path in paths.values():
            path.unlink(missing_ok=True)
            path.symlink_to("/dev/full")

    def room() -> None:
        for path in paths.values():
            path.unlink()

    return Harness(files, lambda log_type: lines_of(paths[log_type]), full_disk, room)


async def test_each_batch_is_kept_in_order_under_its_type(harness: Harness) -> None:
    first = [record(name="pack/Global/a", n=i) for i in range(3)]
    second = [record(name="pack/Global/b", n=i) for i in range(2)]
    status = [record(severity="0", message="hello")]
    await harness.destination.write("result", first)
    await harness.destination.write("status", status)
    await harness.destination.write("result", second)
    assert harness.read("result") == first + second
    assert harness.read("status") == status


async def test_an_empty_batch_is_accepted(harness: Harness) -> None:
    await harness.destination.write("status", [])
    assert harness.read("status") == []


async def test_an_unknown_log_type_is_a_programming_error(harness: Harness) -> None:
    with pytest.raises(ValueError, match="log type"):
        await harness.destination.write("snapshot", [record(a=1)])


async def test_a_refused_batch_raises_unavailable_and_a_resend_is_kept_whole(harness: Harness) -> None:
    batch = [record(name="pack/Global/a", n=i) for i in range(3)]
    await harness.destination.write("result", [record(name="before")])
    harness.break_it()
    with pytest.raises(Unavailable):
        await harness.destination.write("result", batch)
    harness.fix_it()
    await harness.destination.write("result", batch)
    assert harness.read("result")[-3:] == batch


# --- filesystem


async def test_every_record_becomes_exactly_one_line(tmp_path: Path) -> None:
    files = FilesystemLogDestination(tmp_path / "r.log", tmp_path / "s.log")
    pretty = json.dumps({"name": "q", "columns": {"cmd": "a\nb"}}, indent=2).encode()
    await files.write("result", [b'{"a":1}\n', b'{"b":2}\r\n', pretty, b"  ", b'{"c":3}'])
    lines = (tmp_path / "r.log").read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(line) for line in lines[:-1]] == [
        {"a": 1},
        {"b": 2},
        {"name": "q", "columns": {"cmd": "a\nb"}},
        {"c": 3},
    ]


async def test_files_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    files = FilesystemLogDestination(tmp_path / "r.log", tmp_path / "s.log")
    await files.write("result", [record(a=1)])
    assert (tmp_path / "r.log").stat().st_mode & 0o077 == 0


async def test_batches_from_many_tasks_are_all_kept_as_whole_lines(tmp_path: Path) -> None:
    files = FilesystemLogDestination(tmp_path / "r.log", tmp_path / "s.log")
    sent = set()

    async def agent(number: int) -> None:
        for batch in range(10):
            records = [record(agent=number, batch=batch, row=row, pad="x" * 300) for row in range(20)]
            sent.update(records)
            await files.write("result", records)

    async with anyio.create_task_group() as tasks:
        for number in range(30):
            tasks.start_soon(agent, number)
    written = lines_of(tmp_path / "r.log")
    assert len(written) == len(sent) == 30 * 10 * 20
    assert set(written) == sent


async def test_rotation_keeps_every_line_across_the_backups(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    files = FilesystemLogDestination(path, tmp_path / "s.log", rotate=True, max_size_mb=1, max_backups=10)
    sent = [record(n=i, pad="y" * 2000) for i in range(1500)]  # about 3 MB: at least two rotations
    for start in range(0, len(sent), 50):
        await files.write("result", sent[start : start + 50])
    assert (tmp_path / "r.log.1").exists() and (tmp_path / "r.log.2").exists()
    assert all(p.stat().st_size <= 1024 * 1024 + 50 * 2100 for p in tmp_path.glob("r.log*") if p.suffix != ".lock")
    assert lines_of(path) == sent


async def test_rotation_drops_the_oldest_backup_past_max_backups(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    files = FilesystemLogDestination(path, tmp_path / "s.log", rotate=True, max_size_mb=1, max_backups=1)
    sent = [record(n=i, pad="z" * 2000) for i in range(1500)]
    for start in range(0, len(sent), 50):
        await files.write("result", sent[start : start + 50])
    assert not (tmp_path / "r.log.2").exists()
    kept = lines_of(path)
    # Whatever survives is the newest stretch of lines, unbroken.
    assert 0 < len(kept) < len(sent)
    assert kept == sent[-len(kept) :]


async def test_zero_max_backups_keeps_every_backup(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    files = FilesystemLogDestination(path, tmp_path / "s.log", rotate=True, max_size_mb=1, max_backups=0)
    sent = [record(n=i, pad="w" * 2000) for i in range(2200)]  # about 4.4 MB: four rotations
    for start in range(0, len(sent), 50):
        await files.write("result", sent[start : start + 50])
    assert (tmp_path / "r.log.4").exists()
    assert lines_of(path) == sent


async def test_compressed_rotation_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    files = FilesystemLogDestination(path, tmp_path / "s.log", rotate=True, max_size_mb=1, max_backups=5, compress=True)
    sent = [record(n=i, pad=os.urandom(700).hex()) for i in range(1000)]
    for start in range(0, len(sent), 40):
        await files.write("result", sent[start : start + 40])
    assert (tmp_path / "r.log.1.gz").exists()
    assert (tmp_path / "r.log.1.gz").stat().st_mode & 0o077 == 0
    assert not (tmp_path / "r.log.1").exists()
    assert lines_of(path) == sent


async def test_a_file_moved_away_by_logrotate_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    files = FilesystemLogDestination(path, tmp_path / "s.log")
    await files.write("result", [record(n=1)])
    path.rename(tmp_path / "r.log.old")
    await files.write("result", [record(n=2)])
    assert path.read_bytes() == record(n=2) + b"\n"
    assert (tmp_path / "r.log.old").read_bytes() == record(n=1) + b"\n"


async def test_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    files = FilesystemLogDestination(tmp_path / "nope" / "r.log", tmp_path / "nope" / "s.log")
    with pytest.raises(Unavailable) as raised:
        await files.write("status", [record(a=1)])
    assert str(tmp_path) not in str(raised.value)


async def test_writes_work_again_once_the_disk_has_room(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    files = FilesystemLogDestination(path, tmp_path / "s.log")
    path.symlink_to("/dev/full")
    with pytest.raises(Unavailable):
        await files.write("result", [record(a=1)])
    path.unlink()
    await files.write("result", [record(a=2)])
    assert path.read_bytes() == record(a=2) + b"\n"


WRITER = textwrap.dedent(
    """
    import asyncio, json, sys
    from fleet_adapters.logs import FilesystemLogDestination

    async def main(path, who):
        files = FilesystemLogDestination(path, path + ".status", rotate=True, max_size_mb=1, max_backups=50)
        for batch in range(150):
            await files.write("result", [
                json.dumps({"who": who, "batch": batch, "row": row, "pad": "p" * 500}).encode()
                for row in range(10)
            ])

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_two_processes_appending_and_rotating_one_file_lose_and_split_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.log"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), who], env=env, stderr=subprocess.PIPE)
        for who in ("a", "b")
    ]
    for proc in procs:
        _, err = await anyio.to_thread.run_sync(partial(proc.communicate, timeout=PROCESS_DEADLINE))
        assert proc.returncode == 0, err.decode()
    lines = lines_of(path)
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 2 * 150 * 10
    assert {(r["who"], r["batch"], r["row"]) for r in rows} == {
        (who, batch, row) for who in "ab" for batch in range(150) for row in range(10)
    }
    # Batches stay together: each one's rows are adjacent, in order.
    for who in "ab":
        mine = [(r["batch"], r["row"]) for r in rows if r["who"] == who]
        assert mine == sorted(mine)
    assert (tmp_path / "shared.log.1").exists()


# --- stdout, none, routing and the factory


async def test_stdout_gets_one_line_per_record(capsys: pytest.CaptureFixture[str]) -> None:
    out = StdoutLogDestination()
    await out.write("result", [record(a=1), record(b=2) + b"\n"])
    await out.write("status", [record(c=3)])
    assert capsys.readouterr().out.splitlines() == ['{"a":1}', '{"b":2}', '{"c":3}']


async def test_stdout_of_a_real_process_carries_the_lines() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from fleet_adapters.logs import log_destination
        out = log_destination("stdout")
        asyncio.run(out.write("result", [b'{"a":1}', b'{"b":2}']))
        """
    )
    done = await anyio.run_process([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.stdout == b'{"a":1}\n{"b":2}\n'


async def test_the_none_plugin_accepts_everything() -> None:
    await NullLogDestination().write("result", [record(a=1)])
    with pytest.raises(ValueError, match="log type"):
        await NullLogDestination().write("other", [record(a=1)])


async def test_split_destination_routes_by_log_type() -> None:
    results, statuses = RecordingLogDestination(), RecordingLogDestination()
    split = SplitLogDestination(result=results, status=statuses)
    await split.write("result", [record(a=1)])
    await split.write("status", [record(b=2)])
    assert results.records("result") == [record(a=1)] and results.records("status") == []
    assert statuses.records("status") == [record(b=2)] and statuses.records("result") == []
    statuses.failing = True
    with pytest.raises(Unavailable):
        await split.write("status", [record(b=3)])


async def test_the_factory_knows_the_plugin_names(tmp_path: Path) -> None:
    files = log_destination(
        "filesystem", result_path=tmp_path / "r.log", status_path=tmp_path / "s.log", rotate=True, max_size_mb=10
    )
    assert isinstance(files, FilesystemLogDestination)
    await files.write("result", [record(a=1)])
    assert (tmp_path / "r.log").read_bytes() == b'{"a":1}\n'
    assert isinstance(log_destination("stdout", result_path="ignored"), StdoutLogDestination)
    assert isinstance(log_destination("none"), NullLogDestination)


@pytest.mark.parametrize(
    ("plugin", "options", "message"),
    [
        ("firehose", {}, "unknown log plugin 'firehose'"),
        ("filesystem", {"result_path": "/tmp/r.log"}, "needs status_path"),
        (
            "filesystem",
            {"result_path": "/tmp/r", "status_path": "/tmp/s", "max_age": 3},
            "unknown log destination options: max_age",
        ),
        ("filesystem", {"result_path": "/tmp/same", "status_path": "/tmp/same"}, "different files"),
    ],
)
async def test_the_factory_refuses_what_it_cannot_build(plugin: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        log_destination(plugin, **options)
