"""Server settings: one frozen Struct, read from FLEET_* environment variables and command-line flags.

Each field is one option. Its environment variable is ``FLEET_`` + the upper-cased name and its flag is
``--`` + the name with dashes (booleans also get ``--no-...``), so adding an option is adding a field.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec

from fleet_adapters.tls import ensure_self_signed, read_certificate_chain
from fleet_core.model.runtime import AgentSettings, CarveSettings, ServerRuntime
from fleet_core.model.vulnerability_settings import (
    CISA_KNOWN_EXPLOITS_URL,
    EPSS_SCORES_URL,
    NVD_CPE_DATABASE_URL,
    NVD_CVE_FEED_PREFIX_URL,
    VulnerabilitiesConfig,
)

ENV_PREFIX: Final = "FLEET_"
LogPlugin = Literal["filesystem", "stdout", "none", "firehose", "kinesis", "lambda", "pubsub", "kafkarest",
                    "webhook", "s3"]


class SettingsError(Exception):
    """A setting is missing or malformed; str() is one line fit for stderr."""


def _help(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    server_address: Annotated[str, _help("host:port to listen on")] = "0.0.0.0:8080"
    server_tls: Annotated[bool, _help("serve HTTPS")] = True
    server_cert: Annotated[str | None, _help("TLS certificate chain (PEM file)")] = None
    server_key: Annotated[str | None, _help("TLS private key (PEM file)")] = None
    database_url: Annotated[str | None, _help("Postgres URL; unset: embedded Postgres")] = None
    redis_url: Annotated[str | None, _help("Redis URL; unset: embedded Redis")] = None
    data_dir: Annotated[str, _help("embedded databases and generated certificate")] = "./fleet-data"
    session_duration: Annotated[dt.timedelta, _help("login session lifetime (120h, 30m, 5d)")] = (
        dt.timedelta(days=5)
    )
    logging_json: Annotated[bool, _help("log as JSON lines")] = False
    logging_debug: Annotated[bool, _help("log at debug level")] = False
    workers: Annotated[int, msgspec.Meta(ge=1, description="server processes")] = 1
    osquery_host_identifier: Annotated[
        Literal["provided", "instance", "uuid", "hostname"],
        _help("what identifies a host across re-enrollments: provided, instance, uuid or hostname"),
    ] = "provided"
    osquery_enroll_cooldown: Annotated[
        dt.timedelta, _help("refuse re-enrollment of the same host within this time (0: never)")
    ] = dt.timedelta(0)
    osquery_detail_update_interval: Annotated[dt.timedelta, _help("how often host vitals are collected")] = (
        dt.timedelta(hours=1)
    )
    osquery_label_update_interval: Annotated[dt.timedelta, _help("how often label queries run on a host")] = (
        dt.timedelta(hours=1)
    )
    osquery_policy_update_interval: Annotated[dt.timedelta, _help("how often policy queries run on a host")] = (
        dt.timedelta(hours=1)
    )
    osquery_max_jitter_percent: Annotated[
        int, msgspec.Meta(ge=0, le=100, description="spread of those collections, percent of the interval")
    ] = 10
    osquery_result_log_plugin: Annotated[LogPlugin, _help("where osquery result logs go")] = "filesystem"
    osquery_status_log_plugin: Annotated[LogPlugin, _help("where osquery status logs go")] = "filesystem"
    filesystem_result_log_file: Annotated[
        str | None, _help("result log path for the filesystem plugin (default <data dir>/osquery_result)")
    ] = None
    filesystem_status_log_file: Annotated[
        str | None, _help("status log path for the filesystem plugin (default <data dir>/osquery_status)")
    ] = None
    filesystem_enable_log_rotation: Annotated[bool, _help("rotate the filesystem logs")] = False
    filesystem_enable_log_compression: Annotated[bool, _help("gzip rotated filesystem logs")] = False
    filesystem_max_size: Annotated[int, msgspec.Meta(ge=1, description="rotate at this many MB")] = 500
    filesystem_max_backups: Annotated[int, msgspec.Meta(ge=0, description="rotated files to keep")] = 3
    # The remote log plugins (fleet_adapters/log_plugins.py, docs/logging.md), Fleet's flags.
    log_destination_timeout: Annotated[
        dt.timedelta, _help("how long one log batch may take at a remote destination, retries included")
    ] = dt.timedelta(seconds=30)
    firehose_region: Annotated[str | None, _help("AWS region of the firehose log plugin")] = None
    firehose_endpoint_url: Annotated[str | None, _help("firehose API URL (a local or compatible server)")] = None
    firehose_access_key_id: Annotated[str | None, _help("firehose access key id; unset: the default chain")] = None
    firehose_secret_access_key: Annotated[str | None, _help("firehose secret access key")] = None
    firehose_sts_assume_role_arn: Annotated[str | None, _help("role the firehose plugin assumes")] = None
    firehose_sts_external_id: Annotated[str | None, _help("ExternalId of the firehose role's STS AssumeRole")] = None
    firehose_result_stream: Annotated[str | None, _help("Firehose delivery stream for result logs")] = None
    firehose_status_stream: Annotated[str | None, _help("Firehose delivery stream for status logs")] = None
    kinesis_region: Annotated[str | None, _help("AWS region of the kinesis log plugin")] = None
    kinesis_endpoint_url: Annotated[str | None, _help("kinesis API URL (a local or compatible server)")] = None
    kinesis_access_key_id: Annotated[str | None, _help("kinesis access key id; unset: the default chain")] = None
    kinesis_secret_access_key: Annotated[str | None, _help("kinesis secret access key")] = None
    kinesis_sts_assume_role_arn: Annotated[str | None, _help("role the kinesis plugin assumes")] = None
    kinesis_sts_external_id: Annotated[str | None, _help("ExternalId of the kinesis role's STS AssumeRole")] = None
    kinesis_result_stream: Annotated[str | None, _help("Kinesis stream for result logs")] = None
    kinesis_status_stream: Annotated[str | None, _help("Kinesis stream for status logs")] = None
    lambda_region: Annotated[str | None, _help("AWS region of the lambda log plugin")] = None
    lambda_endpoint_url: Annotated[str | None, _help("lambda API URL (a local or compatible server)")] = None
    lambda_access_key_id: Annotated[str | None, _help("lambda access key id; unset: the default chain")] = None
    lambda_secret_access_key: Annotated[str | None, _help("lambda secret access key")] = None
    lambda_sts_assume_role_arn: Annotated[str | None, _help("role the lambda plugin assumes")] = None
    lambda_sts_external_id: Annotated[str | None, _help("ExternalId of the lambda role's STS AssumeRole")] = None
    lambda_result_function: Annotated[str | None, _help("Lambda function for result logs")] = None
    lambda_status_function: Annotated[str | None, _help("Lambda function for status logs")] = None
    pubsub_project: Annotated[str | None, _help("Google Cloud project of the Pub/Sub topics")] = None
    pubsub_result_topic: Annotated[str | None, _help("Pub/Sub topic for result logs")] = None
    pubsub_status_topic: Annotated[str | None, _help("Pub/Sub topic for status logs")] = None
    pubsub_add_attributes: Annotated[
        bool, _help("add each record's name, hostIdentifier and decorations as message attributes")
    ] = False
    pubsub_endpoint_url: Annotated[str, _help("Pub/Sub API URL (the emulator's, say)")] = "https://pubsub.googleapis.com"
    pubsub_credentials_file: Annotated[
        str | None, _help("service account key (JSON file); unset: no credentials, as the emulator wants")
    ] = None
    kafkarest_proxyhost: Annotated[str | None, _help("Kafka REST proxy URL")] = None
    kafkarest_result_topic: Annotated[str | None, _help("Kafka topic for result logs")] = None
    kafkarest_status_topic: Annotated[str | None, _help("Kafka topic for status logs")] = None
    kafkarest_timeout: Annotated[dt.timedelta, _help("Kafka REST request and batch timeout")] = dt.timedelta(seconds=5)
    kafkarest_content_type_value: Annotated[str, _help("Content-Type of Kafka REST requests")] = (
        "application/vnd.kafka.json.v2+json"
    )
    webhook_result_url: Annotated[str | None, _help("URL result log batches are POSTed to")] = None
    webhook_status_url: Annotated[str | None, _help("URL status log batches are POSTed to")] = None
    webhook_format: Annotated[Literal["lines", "array"], _help("body of a log webhook: JSON lines or a JSON array")] = (
        "lines"
    )
    webhook_headers: Annotated[
        str, _help("extra headers of log webhook requests: 'Name: value', several separated by ';'")
    ] = ""
    webhook_bearer_token: Annotated[str | None, _help("bearer token of log webhook requests")] = None
    webhook_gzip: Annotated[bool, _help("gzip log webhook bodies")] = False
    webhook_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10, description="tries per log webhook request")] = 3
    s3_log_bucket: Annotated[str | None, _help("S3 bucket of the s3 log plugin")] = None
    s3_log_prefix: Annotated[str, _help("prefix of every log object key")] = ""
    s3_log_region: Annotated[str | None, _help("region of the log bucket")] = None
    s3_log_endpoint_url: Annotated[str | None, _help("S3 API URL of the log bucket (MinIO, ...)")] = None
    s3_log_access_key_id: Annotated[str | None, _help("access key id for the log bucket")] = None
    s3_log_secret_access_key: Annotated[str | None, _help("secret access key for the log bucket")] = None
    s3_log_sts_assume_role_arn: Annotated[str | None, _help("role assumed for the log bucket")] = None
    s3_log_sts_external_id: Annotated[str | None, _help("ExternalId of the log bucket role's AssumeRole")] = None
    s3_log_force_path_style: Annotated[bool, _help("bucket in the path, as MinIO needs")] = False
    live_query_rest_period: Annotated[
        dt.timedelta, _help("how long the synchronous live query endpoints wait for answers")
    ] = dt.timedelta(seconds=25)
    vulnerabilities_databases_path: Annotated[
        str | None, _help("where the vulnerability feed files are kept (default <data dir>/vulndb)")
    ] = None
    vulnerabilities_periodicity: Annotated[dt.timedelta, _help("how often the vulnerability job runs")] = (
        dt.timedelta(hours=1)
    )
    vulnerabilities_current_instance_checks: Annotated[
        Literal["yes", "no", "auto"],
        _help("whether this process runs the vulnerability job: yes, no or auto (one process at a time)"),
    ] = "auto"
    vulnerabilities_disable_data_sync: Annotated[
        bool, _help("use the feed files already in the databases path instead of downloading them")
    ] = False
    vulnerabilities_recent_vulnerability_max_age: Annotated[
        dt.timedelta, _help("newly found CVEs older than this are not sent to the vulnerability automations")
    ] = dt.timedelta(days=30)
    vulnerabilities_cve_feed_prefix_url: Annotated[
        str, _help("where NVD's CVE JSON 2.0 feeds (nvdcve-2.0-<year>.json.gz) are downloaded from")
    ] = NVD_CVE_FEED_PREFIX_URL
    vulnerabilities_cpe_database_url: Annotated[str, _help("NVD's CPE dictionary 2.0 (nvdcpe-2.0.tar.gz)")] = (
        NVD_CPE_DATABASE_URL
    )
    vulnerabilities_epss_url: Annotated[str, _help("FIRST's EPSS scores (epss_scores-current.csv.gz)")] = (
        EPSS_SCORES_URL
    )
    vulnerabilities_cisa_known_exploits_url: Annotated[
        str, _help("CISA's known exploited vulnerabilities catalogue (JSON)")
    ] = CISA_KNOWN_EXPLOITS_URL
    device_token_ttl: Annotated[
        dt.timedelta, _help("how long a Fleet Desktop device token stays valid after it is issued or refreshed")
    ] = dt.timedelta(hours=1)
    installers_dir: Annotated[
        str | None, _help("where downloadable installers are kept (default <data dir>/installers)")
    ] = None
    osquery_carver_block_size: Annotated[
        int, msgspec.Meta(ge=1, description="carver_block_size sent to agents unless their agent options set one")
    ] = 2 * 1024 * 1024
    carves_max_block_size: Annotated[
        int, msgspec.Meta(ge=1, description="largest carve block size carve/begin accepts, bytes")
    ] = 256 * 1024 * 1024
    carves_max_carve_size: Annotated[
        int, msgspec.Meta(ge=1, description="largest carve carve/begin accepts, bytes")
    ] = 8 * 1024 * 1024 * 1024
    # File carve blocks and installers go to this S3-compatible bucket when it is set, else to
    # Postgres and the installers directory.
    s3_bucket: Annotated[
        str | None, _help("S3 bucket for carve blocks and installers; unset: Postgres and the installers dir")
    ] = None
    s3_prefix: Annotated[str, _help("prefix of every object key (installers under <prefix>installers/)")] = ""
    s3_region: Annotated[str | None, _help("S3 region")] = None
    s3_endpoint_url: Annotated[str | None, _help("S3 API URL, for MinIO, Ceph and other S3-compatible servers")] = None
    s3_access_key_id: Annotated[str | None, _help("S3 access key id; unset: the default credential chain")] = None
    s3_secret_access_key: Annotated[str | None, _help("S3 secret access key")] = None
    s3_sts_assume_role_arn: Annotated[str | None, _help("role to assume through STS for S3")] = None
    s3_sts_external_id: Annotated[str | None, _help("external id passed to STS when assuming the S3 role")] = None
    s3_force_s3_path_style: Annotated[bool, _help("bucket in the URL path, not the host name (MinIO)")] = False
    # As Fleet: GET /metrics is served with basic auth when both are set, without any when
    # --prometheus-basic-auth-disable is given, and not at all otherwise.
    prometheus_basic_auth_username: Annotated[str | None, _help("user name Prometheus scrapes /metrics with")] = None
    prometheus_basic_auth_password: Annotated[str | None, _help("password Prometheus scrapes /metrics with")] = None
    prometheus_basic_auth_disable: Annotated[
        bool, _help("serve /metrics without credentials when none are set")
    ] = False

    @property
    def host(self) -> str:
        return _split_address(self.server_address)[0]

    @property
    def port(self) -> int:
        return _split_address(self.server_address)[1]

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()


class Option(msgspec.Struct, frozen=True):
    """What the command line needs to know about one setting."""

    name: str
    flag: str
    env: str
    is_bool: bool
    help: str
    default: Any


def options() -> Iterator[Option]:
    info = msgspec.inspect.type_info(Settings)
    assert isinstance(info, msgspec.inspect.StructType)
    for field in info.fields:
        inner = field.type.type if isinstance(field.type, msgspec.inspect.Metadata) else field.type
        extra = field.type.extra_json_schema if isinstance(field.type, msgspec.inspect.Metadata) else None
        yield Option(
            name=field.name,
            flag="--" + field.name.replace("_", "-"),
            env=ENV_PREFIX + field.name.upper(),
            is_bool=isinstance(inner, msgspec.inspect.BoolType),
            help=(extra or {}).get("description", ""),
            default=field.default,
        )


_TRUE: Final = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE: Final = frozenset({"0", "false", "f", "no", "n", "off", ""})
# Go's time.ParseDuration units (what Fleet's flags accept), plus d for days.
_DURATION_UNITS: Final = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(text: str) -> dt.timedelta:
    """Parse a Go-style duration such as ``120h``, ``1h30m`` or ``5d``; raises ValueError."""
    text = text.strip()
    if text == "0":
        return dt.timedelta(0)
    pos, seconds = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise ValueError(f"{text!r} is not a duration (use e.g. 120h, 30m, 5d)")
        seconds += float(match[1]) * _DURATION_UNITS[match[2]]
        pos = match.end()
    if not text:
        raise ValueError("empty duration")
    return dt.timedelta(seconds=seconds)


def format_duration(value: dt.timedelta) -> str:
    """The Go-style spelling of a duration (``120h``, ``1h30m``, ``45s``), as parse_duration reads it."""
    hours, rest = divmod(value.total_seconds(), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours:g}h" if hours else "", f"{minutes:g}m" if minutes else "",
             f"{seconds:g}s" if seconds else ""]
    return "".join(parts) or "0s"


def format_value(value: Any) -> str:
    """A setting's value as it would be written in its environment variable."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    return str(value)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true or false)")


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{address!r} is not host:port")
    host = host.removeprefix("[").removesuffix("]")
    return host or "0.0.0.0", int(port_text)  # noqa: S104


def _label(option: Option) -> str:
    return f"{option.flag} / {option.env}"


def load_settings(
    argv_overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from the environment, with command-line values (by field name; None = not given) on top.

    Raises:
        SettingsError: a value is malformed or options contradict each other.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    by_name = {option.name: option for option in options()}
    unknown = set(argv_overrides) - set(by_name)
    if unknown:
        raise SettingsError(f"unknown setting {sorted(unknown)[0]!r}")
    for option in by_name.values():
        value = argv_overrides.get(option.name)
        if value is None:
            value = environ.get(option.env)
        if value is None:
            continue
        try:
            raw[option.name] = _coerce(option, value)
        except ValueError as exc:
            raise SettingsError(f"invalid {_label(option)}: {exc}") from None
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_describe(exc, by_name)) from None
    _check(settings, by_name)
    return settings


def _coerce(option: Option, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if option.is_bool:
        return _parse_bool(value)
    if isinstance(option.default, dt.timedelta):
        return parse_duration(value)
    if option.default is None and value == "":
        return None
    return value


def _describe(exc: msgspec.ValidationError, by_name: Mapping[str, Option]) -> str:
    message = str(exc)
    match = re.search(r" - at `\$\.(\w+)`$", message)
    if match is None or match[1] not in by_name:
        return f"invalid settings: {message}"
    return f"invalid {_label(by_name[match[1]])}: {message[: match.start()]}"


def _check(settings: Settings, by_name: Mapping[str, Option]) -> None:
    try:
        _split_address(settings.server_address)
    except ValueError as exc:
        raise SettingsError(f"invalid {_label(by_name['server_address'])}: {exc}") from None
    if settings.session_duration <= dt.timedelta(0):
        raise SettingsError(f"invalid {_label(by_name['session_duration'])}: must be positive")
    if settings.live_query_rest_period <= dt.timedelta(0):
        raise SettingsError(f"invalid {_label(by_name['live_query_rest_period'])}: must be positive")
    if settings.vulnerabilities_periodicity <= dt.timedelta(0):
        raise SettingsError(f"invalid {_label(by_name['vulnerabilities_periodicity'])}: must be positive")
    if settings.device_token_ttl <= dt.timedelta(0):
        raise SettingsError(f"invalid {_label(by_name['device_token_ttl'])}: must be positive")
    _check_log_plugins(settings, by_name)
    if not settings.server_tls:
        return
    if (settings.server_cert is None) != (settings.server_key is None):
        raise SettingsError("--server-cert and --server-key must be given together")
    for name in ("server_cert", "server_key"):
        path = getattr(settings, name)
        if path is not None and not Path(path).is_file():
            raise SettingsError(f"invalid {_label(by_name[name])}: no such file {path!r}")


# What each remote log plugin needs, by log type ({} is "result" or "status"), and for both.
_LOG_PLUGIN_NEEDS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "firehose": (("firehose_{}_stream",), ("firehose_region",)),
    "kinesis": (("kinesis_{}_stream",), ("kinesis_region",)),
    "lambda": (("lambda_{}_function",), ("lambda_region",)),
    "pubsub": (("pubsub_{}_topic",), ("pubsub_project",)),
    "kafkarest": (("kafkarest_{}_topic",), ("kafkarest_proxyhost",)),
    "webhook": (("webhook_{}_url",), ()),
    "s3": ((), ("s3_log_bucket",)),
}


def _check_log_plugins(settings: Settings, by_name: Mapping[str, Option]) -> None:
    for log_type in ("result", "status"):
        plugin = getattr(settings, f"osquery_{log_type}_log_plugin")
        per_type, shared = _LOG_PLUGIN_NEEDS.get(plugin, ((), ()))
        for name in [template.format(log_type) for template in per_type] + list(shared):
            if not getattr(settings, name):
                raise SettingsError(
                    f"{_label(by_name[f'osquery_{log_type}_log_plugin'])} is {plugin}: set {_label(by_name[name])}")
    for value in filter(None, (part.strip() for part in settings.webhook_headers.split(";"))):
        name, colon, _ = value.partition(":")
        if not colon or not name.strip():
            raise SettingsError(f"invalid {_label(by_name['webhook_headers'])}: expected 'Name: value', got {value!r}")
    for name in ("log_destination_timeout", "kafkarest_timeout"):
        if getattr(settings, name) <= dt.timedelta(0):
            raise SettingsError(f"invalid {_label(by_name[name])}: must be positive")


def server_url(settings: Settings) -> str:
    """Where a browser on this machine reaches the server."""
    scheme = "https" if settings.server_tls else "http"
    return f"{scheme}://localhost:{settings.port}"


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """(certificate chain, key) to serve, generating the self-signed pair on first use; None: plain HTTP."""
    if not settings.server_tls:
        return None
    if settings.server_cert is not None and settings.server_key is not None:
        return Path(settings.server_cert), Path(settings.server_key)
    return ensure_self_signed(settings.data_path)


def server_runtime(settings: Settings) -> ServerRuntime:
    """The facts about this server that the API reports (GET /config's server_settings and friends)."""
    files = tls_files(settings)
    return ServerRuntime(
        session_duration=settings.session_duration,
        logging_debug=settings.logging_debug,
        logging_json=settings.logging_json,
        result_logging=_log_plugin(settings, settings.osquery_result_log_plugin),
        status_logging=_log_plugin(settings, settings.osquery_status_log_plugin),
        agents=AgentSettings(
            host_identifier=settings.osquery_host_identifier,
            enroll_cooldown=settings.osquery_enroll_cooldown,
            detail_update_interval=settings.osquery_detail_update_interval,
            label_update_interval=settings.osquery_label_update_interval,
            policy_update_interval=settings.osquery_policy_update_interval,
            max_jitter_percent=settings.osquery_max_jitter_percent,
            carver_block_size=settings.osquery_carver_block_size,
        ),
        carves=CarveSettings(max_block_size=settings.carves_max_block_size,
                             max_carve_size=settings.carves_max_carve_size),
        certificate_chain=None if files is None else read_certificate_chain(files[0]),
        default_server_url=server_url(settings),
        live_query_rest_period=settings.live_query_rest_period,
        device_token_ttl=settings.device_token_ttl,
        vulnerabilities=vulnerabilities_config(settings),
    )


def vulnerabilities_config(settings: Settings) -> VulnerabilitiesConfig:
    """The --vulnerabilities-* options as the core and the feed engine take them."""
    path = settings.vulnerabilities_databases_path
    return VulnerabilitiesConfig(
        databases_path=str(settings.data_path / "vulndb") if path is None else path,
        periodicity=settings.vulnerabilities_periodicity,
        current_instance_checks=settings.vulnerabilities_current_instance_checks,
        disable_data_sync=settings.vulnerabilities_disable_data_sync,
        recent_vulnerability_max_age=settings.vulnerabilities_recent_vulnerability_max_age,
        cve_feed_prefix_url=settings.vulnerabilities_cve_feed_prefix_url,
        cpe_database_url=settings.vulnerabilities_cpe_database_url,
        epss_url=settings.vulnerabilities_epss_url,
        cisa_known_exploits_url=settings.vulnerabilities_cisa_known_exploits_url,
    )


def installers_path(settings: Settings) -> Path:
    """The directory of the filesystem installer store."""
    return Path(settings.installers_dir).expanduser() if settings.installers_dir else settings.data_path / "installers"


def settings_value(settings: Settings, name: str) -> str:
    """A string setting as GET /config shows it: "" when unset."""
    return str(getattr(settings, name) or "")


def url_without_credentials(url: str | None) -> str:
    """A URL without user:password@ and without its query (where tokens are often put), for
    GET /config and the logs."""
    if not url:
        return ""
    scheme, sep, rest = url.partition("://")
    host_and_path = rest.rpartition("@")[2] if sep else url
    return (scheme + sep if sep else "") + host_and_path.split("?", 1)[0]


def log_files(settings: Settings) -> tuple[Path, Path]:
    """(result log, status log) for the filesystem plugin."""
    return (
        Path(settings.filesystem_result_log_file or settings.data_path / "osquery_result"),
        Path(settings.filesystem_status_log_file or settings.data_path / "osquery_status"),
    )


def _log_plugin(settings: Settings, plugin: str) -> dict[str, Any]:
    """How GET /config reports a log destination, in Fleet's shape: where logs go, never a
    secret (keys, tokens, header values, credential files are reported only as set or not)."""
    if plugin in ("firehose", "kinesis"):
        return {"plugin": plugin, "config": {
            "region": settings_value(settings, f"{plugin}_region"),
            "endpoint_url": settings_value(settings, f"{plugin}_endpoint_url"),
            "status_stream": settings_value(settings, f"{plugin}_status_stream"),
            "result_stream": settings_value(settings, f"{plugin}_result_stream"),
            "sts_assume_role_arn": settings_value(settings, f"{plugin}_sts_assume_role_arn"),
            "sts_external_id": settings_value(settings, f"{plugin}_sts_external_id"),
            "access_key_id_set": bool(getattr(settings, f"{plugin}_access_key_id")),
        }}
    if plugin == "lambda":
        return {"plugin": plugin, "config": {
            "region": settings_value(settings, "lambda_region"),
            "endpoint_url": settings_value(settings, "lambda_endpoint_url"),
            "status_function": settings_value(settings, "lambda_status_function"),
            "result_function": settings_value(settings, "lambda_result_function"),
            "sts_assume_role_arn": settings_value(settings, "lambda_sts_assume_role_arn"),
            "sts_external_id": settings_value(settings, "lambda_sts_external_id"),
            "access_key_id_set": bool(settings.lambda_access_key_id),
        }}
    if plugin == "pubsub":
        return {"plugin": plugin, "config": {
            "project": settings_value(settings, "pubsub_project"),
            "status_topic": settings_value(settings, "pubsub_status_topic"),
            "result_topic": settings_value(settings, "pubsub_result_topic"),
            "add_attributes": settings.pubsub_add_attributes,
            "endpoint_url": settings.pubsub_endpoint_url,
            "credentials_set": bool(settings.pubsub_credentials_file),
        }}
    if plugin == "kafkarest":
        return {"plugin": plugin, "config": {
            "proxyhost": settings_value(settings, "kafkarest_proxyhost"),
            "status_topic": settings_value(settings, "kafkarest_status_topic"),
            "result_topic": settings_value(settings, "kafkarest_result_topic"),
            "timeout": int(settings.kafkarest_timeout.total_seconds()),
            "content_type_value": settings.kafkarest_content_type_value,
        }}
    if plugin == "webhook":
        return {"plugin": plugin, "config": {
            "status_url": url_without_credentials(settings.webhook_status_url),
            "result_url": url_without_credentials(settings.webhook_result_url),
            "format": settings.webhook_format,
            "gzip": settings.webhook_gzip,
            "header_names": [part.partition(":")[0].strip() for part in settings.webhook_headers.split(";")
                             if part.strip()],
            "bearer_token_set": bool(settings.webhook_bearer_token),
            "max_attempts": settings.webhook_max_attempts,
        }}
    if plugin == "s3":
        return {"plugin": plugin, "config": {
            "bucket": settings_value(settings, "s3_log_bucket"),
            "prefix": settings.s3_log_prefix,
            "region": settings_value(settings, "s3_log_region"),
            "endpoint_url": settings_value(settings, "s3_log_endpoint_url"),
            "sts_assume_role_arn": settings_value(settings, "s3_log_sts_assume_role_arn"),
            "sts_external_id": settings_value(settings, "s3_log_sts_external_id"),
            "access_key_id_set": bool(settings.s3_log_access_key_id),
        }}
    if plugin != "filesystem":
        return {"plugin": plugin, "config": {}}
    result, status = log_files(settings)
    return {"plugin": plugin, "config": {
        "status_log_file": str(status),
        "result_log_file": str(result),
        "enable_log_rotation": settings.filesystem_enable_log_rotation,
        "enable_log_compression": settings.filesystem_enable_log_compression,
    }}
