"""`fleet-sim` / `python -m fleet_osquery.sim`: simulate N osqueryd agents against a Fleet-compatible server."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from fleet_osquery.sim.agent import SimOptions
from fleet_osquery.sim.answers import AnswerRules
from fleet_osquery.sim.nodekeys import load_node_keys
from fleet_osquery.sim.simulator import Simulator
from fleet_osquery.sim.stats import format_report
from fleet_osquery.sim.templates import assign_templates
from fleet_osquery.sim.wire import API_PREFIXES

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DEFAULT_SEED = 1


def duration(text: str) -> float:
    """Seconds, or Go-style `10s` / `1m` / `2h` / `500ms` (osquery-perf's flag values work)."""
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def shard_spec(text: str) -> tuple[int, int]:
    """`K/N`: this process is shard K (from 0) of N."""
    k, sep, n = text.partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit() or not 0 <= int(k) < int(n):
        raise argparse.ArgumentTypeError(f"not a shard K/N with 0 <= K < N: {text!r}")
    return int(k), int(n)


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"not a probability: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fleet-sim", description=__doc__)
    p.add_argument("--server-url", default="https://localhost:8080")
    p.add_argument(
        "--enroll-secret",
        default=os.environ.get("FLEET_SIM_ENROLL_SECRET"),
        help="enroll secret (default: $FLEET_SIM_ENROLL_SECRET, which keeps it out of `ps`)",
    )
    p.add_argument("--host-count", type=int, default=None, help="simulated hosts (default 10, or the template counts)")
    p.add_argument(
        "--os-templates",
        default="macos_14",
        help="comma list of macos_14, ubuntu_22.04, windows_11, rhel_9, each with an optional :count",
    )
    p.add_argument(
        "--shard",
        type=shard_spec,
        default=(0, 1),
        metavar="K/N",
        help="run only hosts K, K+N, K+2N... of --host-count (N processes together run them all; "
        "give each its own --node-key-file)",
    )
    p.add_argument("--config-interval", type=duration, default=60.0)
    p.add_argument("--query-interval", type=duration, default=10.0, help="distributed_interval")
    p.add_argument("--logger-tls-period", type=duration, default=10.0)
    p.add_argument("--logger-tls-max-lines", type=int, default=1024)
    p.add_argument("--start-period", type=duration, default=10.0, help="spread host starts over this long")
    p.add_argument("--duration", type=duration, default=300.0, help="stop after this long (always bounded)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"identity/answer seed (default: the node key file's, else {DEFAULT_SEED})",
    )
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    tls.add_argument("--ca-file", type=Path, help="CA bundle to verify the server with")
    p.add_argument("--gzip-logs", action="store_true", help="send logs with Content-Encoding: gzip")
    p.add_argument("--api-prefix", choices=API_PREFIXES, default="/api/osquery")
    p.add_argument("--node-key-file", type=Path, help="save node keys here and reuse them next run")
    p.add_argument("--only-already-enrolled", action="store_true", help="run only hosts with a saved node key")
    p.add_argument("--policy-pass-prob", type=probability, default=1.0)
    p.add_argument("--label-match-prob", type=probability, default=0.5)
    p.add_argument("--live-query-fail-prob", type=probability, default=0.0)
    p.add_argument("--live-query-no-results-prob", type=probability, default=0.2)
    p.add_argument("--software-query-fail-prob", type=probability, default=0.0)
    p.add_argument("--orbit-prob", type=probability, default=0.5, help="share of hosts with fleetd tables")
    p.add_argument("--max-connections", type=int, default=200)
    p.add_argument(
        "--http-client", choices=("raw", "httpx"), default="raw", help="raw: lean built-in HTTP/1.1 client (default)"
    )
    p.add_argument("--request-timeout", type=duration, default=16.0)
    p.add_argument("--report-every", type=duration, default=0.0, help="print the report every N seconds (0: off)")
    p.add_argument("--json-report", type=Path, help="write the final report as JSON here")
    return p


def _use_uvloop() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.enroll_secret:
        parser.error("--enroll-secret (or FLEET_SIM_ENROLL_SECRET) is required")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    if args.only_already_enrolled and args.node_key_file is None:
        parser.error("--only-already-enrolled needs --node-key-file")
    seed = args.seed
    if seed is None and args.node_key_file is not None and args.node_key_file.exists():
        seed = load_node_keys(args.node_key_file).seed
    seed = DEFAULT_SEED if seed is None else seed
    try:
        assign_templates(args.os_templates, args.host_count or (None if ":" in args.os_templates else 10))
    except ValueError as exc:
        parser.error(str(exc))
    counted_only = all(":" in part for part in args.os_templates.split(",") if part.strip())
    host_count = args.host_count if args.host_count is not None else (None if counted_only else 10)

    options = SimOptions(
        config_interval=args.config_interval,
        query_interval=args.query_interval,
        logger_tls_period=args.logger_tls_period,
        logger_tls_max_lines=args.logger_tls_max_lines,
        gzip_logs=args.gzip_logs,
        seed=seed,
        orbit_prob=args.orbit_prob,
        rules=AnswerRules(
            policy_pass_prob=args.policy_pass_prob,
            label_match_prob=args.label_match_prob,
            live_query_fail_prob=args.live_query_fail_prob,
            live_query_no_results_prob=args.live_query_no_results_prob,
            software_query_fail_prob=args.software_query_fail_prob,
        ),
    )
    verify: bool | str = False if args.insecure else (str(args.ca_file) if args.ca_file else True)
    sim = Simulator(
        args.server_url,
        args.enroll_secret,
        hosts=host_count,
        os_templates=args.os_templates,
        shard=args.shard,
        options=options,
        start_period=args.start_period,
        node_key_file=args.node_key_file,
        only_already_enrolled=args.only_already_enrolled,
        api_prefix=args.api_prefix,
        verify=verify,
        max_connections=args.max_connections,
        http_client=args.http_client,
        request_timeout=args.request_timeout,
        report_every=args.report_every or None,
        report_sink=lambda text: print(text, file=sys.stderr, flush=True),
    )

    async def go() -> dict[str, Any]:
        async with sim:
            return await sim.run(args.duration)

    try:
        with asyncio.Runner(loop_factory=_use_uvloop()) as runner:
            report = runner.run(go())
    except KeyboardInterrupt:
        report = sim.report()
    print(format_report(report), flush=True)
    if args.json_report is not None:
        args.json_report.parent.mkdir(parents=True, exist_ok=True)
        args.json_report.write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
