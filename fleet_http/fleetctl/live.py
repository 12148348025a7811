"""``fleetctl query``: a live query with a progress bar on stderr and JSON lines on stdout."""

from __future__ import annotations

import json
from typing import IO

import attrs
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fleet_http.client import AsyncFleetClient, LiveQueryTimeout, Result, Status, StreamError, Totals


@attrs.define
class Summary:
    campaign_id: int = 0
    total: int = 0
    online: int = 0
    responded: int = 0
    rows: int = 0
    errors: int = 0
    finished: bool = False
    timed_out: bool = False

    def line(self) -> str:
        state = "finished" if self.finished else "timed out" if self.timed_out else "stopped"
        return (f"campaign {self.campaign_id} {state}: {self.responded} of {self.online} online hosts responded "
                f"({self.total} targeted), {self.rows} rows, {self.errors} host errors")


async def run_query(fleet: AsyncFleetClient, *, sql: str | None, query_id: int | None, host_ids: list[int],
                    label_ids: list[int], team_ids: list[int], seconds: float | None, stop_when_finished: bool,
                    out: IO[str], err: Console, quiet: bool = False) -> Summary:
    """Stream one campaign; returns what happened (also when interrupted: the caller prints it)."""
    summary = Summary()
    campaign = await fleet.live_query(query=sql, query_id=query_id, host_ids=host_ids, label_ids=label_ids,
                                      team_ids=team_ids, seconds=seconds, raise_on_timeout=False)
    campaign.stop_when_finished = stop_when_finished
    summary.campaign_id = campaign.id
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed:.0f}/{task.fields[online]} online responded, "
                                   "{task.fields[hosts]} total"),
                        TimeElapsedColumn(), console=err, disable=quiet, transient=False)
    with progress:
        task = progress.add_task(f"campaign {campaign.id}", total=None, online=0, hosts=0)
        async with campaign:
            err.print(f"campaign {campaign.id} started: streaming results (Ctrl-C stops it)", highlight=False)
            async for event in campaign:
                if isinstance(event, Totals):
                    summary.total, summary.online = event.count, event.online
                    progress.update(task, total=max(event.online, 1), online=event.online, hosts=event.count)
                elif isinstance(event, Result):
                    summary.responded += 1
                    summary.rows += len(event.rows)
                    line = {"host": event.host.hostname, "rows": event.rows}
                    if event.error:
                        summary.errors += 1
                        line["error"] = event.error
                    out.write(json.dumps(line) + "\n")
                    out.flush()
                    progress.update(task, completed=summary.responded)
                elif isinstance(event, Status):
                    summary.finished = event.finished
                elif isinstance(event, StreamError):
                    err.print(f"[red]error:[/red] {event.message}")
        summary.timed_out = campaign.timed_out
    return summary


__all__ = ["LiveQueryTimeout", "Summary", "run_query"]
