"""OS templates: what a simulated host of each OS says at enroll and answers to Fleet's detail queries.

A template owns the static parts (OS version rows, software lists, table names); a `HostIdentity`
(derived from the seed and host index) fills in the per-host parts (uuid, hostname, serial, MAC, IP).
Every row value is a string, as osquery sends them (§1.4, §1.7).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Row = dict[str, str]
Rows = list[Row]

OSQUERY_VERSION = "5.12.1"

# Tables only some platforms have. A query over one of these on a host whose template lacks it
# behaves like osquery's "no such table" (discovery returns no rows; a query fails with status 1).
PLATFORM_TABLES: dict[str, frozenset[str]] = {
    "darwin": frozenset(
        {
            "apps",
            "mdm",
            "munki_info",
            "disk_space",
            "homebrew_packages",
            "safari_extensions",
            "keychain_items",
            "plist",
            "launchd",
            "alf",
            "sip_config",
            "gatekeeper",
            "filevault_prk",
            "macos_profiles",
            "system_extensions",
            "software_update",
            "managed_policies",
        }
    ),
    "linux": frozenset({"apt_sources", "selinux_settings", "systemd_units", "iptables", "kernel_modules"}),
    "debian": frozenset({"deb_packages"}),
    "rhel": frozenset({"rpm_packages", "yum_sources"}),
    "windows": frozenset(
        {
            "programs",
            "registry",
            "logical_drives",
            "bitlocker_info",
            "windows_update_history",
            "services",
            "patches",
            "ie_extensions",
            "chocolatey_packages",
            "mdm_bridge",
            "windows_security_center",
            "wmi_cli_event_consumers",
        }
    ),
    "darwin_windows": frozenset({"battery", "certificates"}),
    "unix": frozenset({"mounts", "disk_encryption", "shell_history", "crontab", "sudoers"}),
    "fleetd": frozenset({"orbit_info", "google_chrome_profiles", "fleetd_logs"}),
    # Never present on our templates: answering them would change what Fleet thinks the host is.
    "never": frozenset({"kubernetes_info", "chromeos_profile_user_info", "network_interfaces", "cryptoinfo"}),
}
KNOWN_PLATFORM_TABLES: frozenset[str] = frozenset().union(*PLATFORM_TABLES.values())


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """The per-host facts every answer derives from; stable for a given seed and index."""

    index: int
    uuid: str
    hostname: str
    computer_name: str
    serial: str
    mac: str
    ip: str
    instance_id: str
    pid: str
    start_time: str
    orbit: bool
    username: str

    @property
    def host_identifier(self) -> str:
        # osquery started with --host_identifier=uuid, as Fleet's load-test docs do.
        return self.uuid


def make_identity(seed: int, index: int, template: OsTemplate, *, orbit_prob: float = 0.5) -> HostIdentity:
    digest = hashlib.sha256(f"fleet-sim:{seed}:{index}".encode()).digest()
    host_uuid = str(uuid.UUID(bytes=digest[:16], version=4)).upper()
    short = digest[16:19].hex()
    serial = "".join("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[b % 34] for b in digest[19:31])
    # 0x02 in the first octet: a locally administered unicast MAC, so it never collides with a real vendor.
    mac = ":".join(
        f"{b:02x}" for b in (0x02, digest[20], digest[21], (index >> 16) & 0xFF, (index >> 8) & 0xFF, index & 0xFF)
    )
    # Host octet 1-254 so no address is a network or broadcast address; unique for 16 M hosts.
    ip = f"10.{index // (254 * 256) % 256}.{index // 254 % 256}.{index % 254 + 1}"
    name = template.hostname_pattern.format(index=index, short=short, short_upper=short.upper())
    orbit = (int.from_bytes(digest[28:32], "big") / 2**32) < orbit_prob
    return HostIdentity(
        index=index,
        uuid=host_uuid,
        hostname=name,
        computer_name=name.split(".")[0],
        serial=serial,
        mac=mac,
        ip=ip,
        instance_id=str(uuid.UUID(bytes=digest[8:24], version=4)),
        pid=str(1000 + int.from_bytes(digest[24:26], "big") % 60000),
        start_time=str(1_700_000_000 + int.from_bytes(digest[26:30], "big") % 10_000_000),
        orbit=orbit,
        username=f"user{index}",
    )


@dataclass(frozen=True, slots=True)
class Software:
    name: str
    version: str
    source: str
    bundle_identifier: str = ""
    vendor: str = ""
    extension_id: str = ""
    extension_for: str = ""
    installed_path: str = ""
    arch: str = ""
    release: str = ""


_TYPE_BY_SOURCE = {
    "apps": "Application (macOS)",
    "programs": "Program (Windows)",
    "deb_packages": "Package (deb)",
    "rpm_packages": "Package (RPM)",
    "python_packages": "Package (Python)",
    "npm_packages": "Package (npm)",
    "chrome_extensions": "Browser plugin (Chrome)",
    "homebrew_packages": "Package (Homebrew)",
    "chocolatey_packages": "Package (Chocolatey)",
}


def software_row(sw: Software) -> Row:
    return {
        "name": sw.name,
        "version": sw.version,
        "type": _TYPE_BY_SOURCE.get(sw.source, "Package"),
        "bundle_identifier": sw.bundle_identifier,
        "extension_id": sw.extension_id,
        "extension_for": sw.extension_for,
        "browser": sw.extension_for,
        "source": sw.source,
        "vendor": sw.vendor,
        "release": sw.release,
        "arch": sw.arch,
        "last_opened_at": "0",
        "installed_path": sw.installed_path,
    }


@dataclass(frozen=True)
class OsTemplate:
    """One simulated OS. `family` is darwin, linux or windows (the scheduler's platform filter)."""

    name: str
    family: str
    platform_type: str
    hostname_pattern: str
    os_version: Row
    osquery_info: Row
    system_info: Row
    platform_info: Row
    kernel_version: str
    software: tuple[Software, ...]
    extra_tables: frozenset[str]
    disk: tuple[str, str, str]  # gigs available, percent available, gigs total
    login_shell: str
    admin_group: str
    display_version: str = ""
    static_rows: dict[str, Rows] = field(default_factory=dict)

    @property
    def platform(self) -> str:
        return self.os_version["platform"]

    def tables(self, identity: HostIdentity) -> frozenset[str]:
        """The platform-specific tables this host has (common tables are assumed everywhere)."""
        return self.extra_tables | (PLATFORM_TABLES["fleetd"] if identity.orbit else frozenset())

    def host_details(self, ident: HostIdentity) -> dict[str, Row]:
        """The first row of os_version, osquery_info, system_info and platform_info, as osqueryd enrolls."""
        return {
            "os_version": dict(self.os_version),
            "osquery_info": self.osquery_info_row(ident),
            "system_info": self.system_info_row(ident),
            "platform_info": dict(self.platform_info),
        }

    def osquery_info_row(self, ident: HostIdentity) -> Row:
        row = dict(self.osquery_info)
        row.update(
            pid=ident.pid,
            uuid=ident.uuid,
            instance_id=ident.instance_id,
            start_time=ident.start_time,
            watcher=str(int(ident.pid) - 1),
        )
        return row

    def system_info_row(self, ident: HostIdentity) -> Row:
        row = dict(self.system_info)
        row.update(
            hostname=ident.hostname,
            uuid=ident.uuid,
            hardware_serial=ident.serial,
            computer_name=ident.computer_name,
            local_hostname=ident.computer_name,
        )
        return row


def _sw(source: str, items: Sequence[tuple[str, str]], **kw: str) -> tuple[Software, ...]:
    return tuple(Software(name=n, version=v, source=source, **kw) for n, v in items)


_MAC_APPS = (
    ("Google Chrome.app", "124.0.6367.91", "com.google.Chrome"),
    ("Slack.app", "4.37.101", "com.tinyspeck.slackmacgap"),
    ("zoom.us.app", "5.17.11", "us.zoom.xos"),
    ("Firefox.app", "125.0.3", "org.mozilla.firefox"),
    ("Visual Studio Code.app", "1.88.1", "com.microsoft.VSCode"),
    ("iTerm.app", "3.4.23", "com.googlecode.iterm2"),
    ("1Password 7.app", "7.9.11", "com.agilebits.onepassword7"),
    ("Docker.app", "4.29.0", "com.docker.docker"),
)
_PY = (("pip", "23.3.1"), ("setuptools", "68.2.2"), ("requests", "2.31.0"))
_CHROME_EXT = (("Google Docs Offline", "1.73.0"),)

MACOS_14 = OsTemplate(
    name="macos_14",
    family="darwin",
    platform_type="16",
    hostname_pattern="mac-{index:05d}-{short}.local",
    os_version={
        "name": "macOS",
        "version": "14.1.2",
        "major": "14",
        "minor": "1",
        "patch": "2",
        "build": "23B92",
        "platform": "darwin",
        "platform_like": "darwin",
        "codename": "Sonoma",
        "arch": "arm64",
        "extra": "",
    },
    osquery_info={
        "pid": "",
        "uuid": "",
        "instance_id": "",
        "version": OSQUERY_VERSION,
        "config_hash": "",
        "config_valid": "0",
        "extensions": "active",
        "build_platform": "darwin",
        "build_distro": "10.14",
        "start_time": "",
        "watcher": "",
        "platform_mask": "21",
    },
    system_info={
        "hostname": "",
        "uuid": "",
        "cpu_type": "arm64e",
        "cpu_subtype": "ARM64E",
        "cpu_brand": "Apple M1",
        "cpu_physical_cores": "8",
        "cpu_logical_cores": "8",
        "cpu_sockets": "",
        "cpu_microcode": "",
        "physical_memory": "17179869184",
        "hardware_vendor": "Apple Inc.",
        "hardware_model": "MacBookPro17,1",
        "hardware_version": "",
        "hardware_serial": "",
        "board_vendor": "",
        "board_model": "",
        "board_version": "",
        "board_serial": "",
        "computer_name": "",
        "local_hostname": "",
    },
    platform_info={
        "vendor": "Apple Inc.",
        "version": "10151.41.12",
        "date": "",
        "revision": "",
        "extra": "",
        "address": "",
        "size": "0",
        "volume_size": "0",
        "firmware_type": "iboot",
    },
    kernel_version="23.1.0",
    software=tuple(
        Software(name=n, version=v, source="apps", bundle_identifier=b, installed_path=f"/Applications/{n}")
        for n, v, b in _MAC_APPS
    )
    + _sw("python_packages", _PY)
    + _sw("chrome_extensions", _CHROME_EXT, extension_id="ghbmnnjooekpmoecnnnilnnbdlolhkhi", extension_for="chrome"),
    extra_tables=PLATFORM_TABLES["darwin"] | PLATFORM_TABLES["darwin_windows"] | PLATFORM_TABLES["unix"],
    disk=("312.55", "62.51", "499.96"),
    login_shell="/bin/zsh",
    admin_group="admin",
)

_UBUNTU_DEBS = (
    ("bash", "5.1-6ubuntu1.1"),
    ("openssl", "3.0.2-0ubuntu1.15"),
    ("curl", "7.81.0-1ubuntu1.16"),
    ("vim", "2:8.2.3995-1ubuntu2.16"),
    ("python3", "3.10.6-1~22.04"),
    ("git", "1:2.34.1-1ubuntu1.11"),
    ("linux-image-6.5.0-28-generic", "6.5.0-28.29~22.04.1"),
    ("sudo", "1.9.9-1ubuntu2.4"),
)
UBUNTU_22_04 = OsTemplate(
    name="ubuntu_22.04",
    family="linux",
    platform_type="8",
    hostname_pattern="ubuntu-{index:05d}-{short}",
    os_version={
        "name": "Ubuntu",
        "version": "22.04.4 LTS (Jammy Jellyfish)",
        "major": "22",
        "minor": "4",
        "patch": "0",
        "build": "",
        "platform": "ubuntu",
        "platform_like": "debian",
        "codename": "jammy",
        "arch": "x86_64",
        "extra": "",
    },
    osquery_info={
        "pid": "",
        "uuid": "",
        "instance_id": "",
        "version": OSQUERY_VERSION,
        "config_hash": "",
        "config_valid": "0",
        "extensions": "active",
        "build_platform": "ubuntu",
        "build_distro": "focal",
        "start_time": "",
        "watcher": "",
        "platform_mask": "9",
    },
    system_info={
        "hostname": "",
        "uuid": "",
        "cpu_type": "x86_64",
        "cpu_subtype": "6",
        "cpu_brand": "Intel(R) Core(TM) i7-10610U CPU @ 1.80GHz",
        "cpu_physical_cores": "4",
        "cpu_logical_cores": "8",
        "cpu_sockets": "1",
        "cpu_microcode": "0xf4",
        "physical_memory": "16477306880",
        "hardware_vendor": "Dell Inc.",
        "hardware_model": "Latitude 7410",
        "hardware_version": "",
        "hardware_serial": "",
        "board_vendor": "Dell Inc.",
        "board_model": "0M5G57",
        "board_version": "A00",
        "board_serial": "",
        "computer_name": "",
        "local_hostname": "",
    },
    platform_info={
        "vendor": "Dell Inc.",
        "version": "1.24.0",
        "date": "02/05/2024",
        "revision": "1.24",
        "extra": "",
        "address": "0xf0000",
        "size": "16777216",
        "volume_size": "0",
        "firmware_type": "uefi",
    },
    kernel_version="6.5.0-28-generic",
    software=_sw("deb_packages", _UBUNTU_DEBS, arch="amd64")
    + _sw("python_packages", _PY)
    + _sw("npm_packages", (("npm", "10.5.0"), ("typescript", "5.4.5")))
    + _sw("chrome_extensions", _CHROME_EXT, extension_id="ghbmnnjooekpmoecnnnilnnbdlolhkhi", extension_for="chrome"),
    extra_tables=PLATFORM_TABLES["linux"] | PLATFORM_TABLES["debian"] | PLATFORM_TABLES["unix"],
    disk=("180.13", "77.82", "231.47"),
    login_shell="/bin/bash",
    admin_group="sudo",
)

_RHEL_RPMS = (
    ("bash", "5.1.8"),
    ("openssl", "3.0.7"),
    ("curl", "7.76.1"),
    ("vim-enhanced", "8.2.2637"),
    ("python3", "3.9.18"),
    ("git", "2.39.3"),
    ("kernel", "5.14.0"),
    ("sudo", "1.9.5p2"),
)
RHEL_9 = OsTemplate(
    name="rhel_9",
    family="linux",
    platform_type="8",
    hostname_pattern="rhel-{index:05d}-{short}.example.internal",
    os_version={
        "name": "Red Hat Enterprise Linux",
        "version": "9.3 (Plow)",
        "major": "9",
        "minor": "3",
        "patch": "0",
        "build": "",
        "platform": "rhel",
        "platform_like": "fedora",
        "codename": "",
        "arch": "x86_64",
        "extra": "",
    },
    osquery_info={
        "pid": "",
        "uuid": "",
        "instance_id": "",
        "version": OSQUERY_VERSION,
        "config_hash": "",
        "config_valid": "0",
        "extensions": "active",
        "build_platform": "centos",
        "build_distro": "centos7",
        "start_time": "",
        "watcher": "",
        "platform_mask": "9",
    },
    system_info={
        "hostname": "",
        "uuid": "",
        "cpu_type": "x86_64",
        "cpu_subtype": "85",
        "cpu_brand": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        "cpu_physical_cores": "2",
        "cpu_logical_cores": "4",
        "cpu_sockets": "1",
        "cpu_microcode": "0xd0003a5",
        "physical_memory": "8201646080",
        "hardware_vendor": "Amazon EC2",
        "hardware_model": "m6i.xlarge",
        "hardware_version": "",
        "hardware_serial": "",
        "board_vendor": "Amazon EC2",
        "board_model": "",
        "board_version": "",
        "board_serial": "",
        "computer_name": "",
        "local_hostname": "",
    },
    platform_info={
        "vendor": "Amazon EC2",
        "version": "1.0",
        "date": "10/16/2017",
        "revision": "1.0",
        "extra": "",
        "address": "0xf0000",
        "size": "65536",
        "volume_size": "0",
        "firmware_type": "uefi",
    },
    kernel_version="5.14.0-362.24.1.el9_3.x86_64",
    software=tuple(
        Software(name=n, version=v, source="rpm_packages", release="1.el9", arch="x86_64", vendor="Red Hat, Inc.")
        for n, v in _RHEL_RPMS
    )
    + _sw("python_packages", _PY),
    extra_tables=PLATFORM_TABLES["linux"] | PLATFORM_TABLES["rhel"] | PLATFORM_TABLES["unix"],
    disk=("61.20", "61.20", "100.00"),
    login_shell="/bin/bash",
    admin_group="wheel",
)

_WIN_PROGRAMS = (
    ("Google Chrome", "124.0.6367.91", "Google LLC"),
    ("Mozilla Firefox (x64 en-US)", "125.0.3", "Mozilla"),
    ("Microsoft Edge", "124.0.2478.67", "Microsoft Corporation"),
    ("7-Zip 23.01 (x64)", "23.01", "Igor Pavlov"),
    ("Microsoft Visual Studio Code", "1.88.1", "Microsoft Corporation"),
    ("Zoom", "5.17.11", "Zoom Video Communications"),
    ("Python 3.12.3 (64-bit)", "3.12.3150.0", "Python Software Foundation"),
    ("Microsoft 365 Apps for enterprise - en-us", "16.0.17425.20176", "Microsoft Corporation"),
)
WINDOWS_11 = OsTemplate(
    name="windows_11",
    family="windows",
    platform_type="2",
    hostname_pattern="DESKTOP-{short_upper}{index:04d}",
    os_version={
        "name": "Microsoft Windows 11 Pro",
        "version": "10.0.22631",
        "major": "10",
        "minor": "0",
        "patch": "",
        "build": "22631",
        "platform": "windows",
        "platform_like": "windows",
        "codename": "Microsoft Windows 11 Pro",
        "arch": "64-bit",
        "install_date": "1700000000",
        "extra": "",
        "revision": "3447",
    },
    osquery_info={
        "pid": "",
        "uuid": "",
        "instance_id": "",
        "version": OSQUERY_VERSION,
        "config_hash": "",
        "config_valid": "0",
        "extensions": "active",
        "build_platform": "windows",
        "build_distro": "10",
        "start_time": "",
        "watcher": "",
        "platform_mask": "2",
    },
    system_info={
        "hostname": "",
        "uuid": "",
        "cpu_type": "x86_64",
        "cpu_subtype": "-1",
        "cpu_brand": "11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz",
        "cpu_physical_cores": "4",
        "cpu_logical_cores": "8",
        "cpu_sockets": "",
        "cpu_microcode": "",
        "physical_memory": "17179869184",
        "hardware_vendor": "LENOVO",
        "hardware_model": "20XW0055US",
        "hardware_version": "ThinkPad X1 Carbon Gen 9",
        "hardware_serial": "",
        "board_vendor": "LENOVO",
        "board_model": "20XW0055US",
        "board_version": "SDK0J40697 WIN",
        "board_serial": "",
        "computer_name": "",
        "local_hostname": "",
    },
    platform_info={
        "vendor": "LENOVO",
        "version": "N32ET86W (1.62 )",
        "date": "11/14/2023",
        "revision": "1.62",
        "extra": "",
        "address": "",
        "size": "",
        "volume_size": "0",
        "firmware_type": "uefi",
    },
    kernel_version="10.0.22631.3447",
    software=tuple(Software(name=n, version=v, source="programs", vendor=vd) for n, v, vd in _WIN_PROGRAMS)
    + _sw("chrome_extensions", _CHROME_EXT, extension_id="ghbmnnjooekpmoecnnnilnnbdlolhkhi", extension_for="chrome"),
    extra_tables=PLATFORM_TABLES["windows"] | PLATFORM_TABLES["darwin_windows"],
    disk=("287.11", "60.32", "475.95"),
    login_shell="C:\\Windows\\system32\\cmd.exe",
    admin_group="Administrators",
    display_version="23H2",
)

TEMPLATES: dict[str, OsTemplate] = {t.name: t for t in (MACOS_14, UBUNTU_22_04, WINDOWS_11, RHEL_9)}
# osquery-perf's spellings, so the same --os_templates values work here.
ALIASES: dict[str, str] = {
    "macos_14.1.2": "macos_14",
    "macos": "macos_14",
    "ubuntu": "ubuntu_22.04",
    "ubuntu_22.04": "ubuntu_22.04",
    "windows": "windows_11",
    "windows_11": "windows_11",
    "windows_11_22H2_2861": "windows_11",
    "windows_11_22H2_3007": "windows_11",
    "rhel": "rhel_9",
    "rhel_9": "rhel_9",
}


def get_template(name: str) -> OsTemplate:
    resolved = ALIASES.get(name, name)
    if resolved not in TEMPLATES:
        raise ValueError(f"unknown OS template {name!r}; known: {', '.join(sorted(TEMPLATES))}")
    return TEMPLATES[resolved]


def assign_templates(spec: str, host_count: int | None) -> list[OsTemplate]:
    """Expand `macos_14,ubuntu_22.04:10` into one template per host.

    Entries with a count get exactly that many hosts; the rest of `host_count` is shared round-robin
    among entries without one. With every entry counted and no host count, the counts decide.
    """
    counted: list[tuple[OsTemplate, int]] = []
    uncounted: list[OsTemplate] = []
    for raw in (part.strip() for part in spec.split(",")):
        if not raw:
            continue
        name, sep, count = raw.partition(":")
        template = get_template(name.strip())
        if sep:
            if not count.strip().isdigit():
                raise ValueError(f"bad count in OS template entry {raw!r}")
            counted.append((template, int(count)))
        else:
            uncounted.append(template)
    if not counted and not uncounted:
        raise ValueError("no OS templates given")
    fixed = sum(n for _, n in counted)
    total = fixed if host_count is None and not uncounted else host_count
    if total is None:
        raise ValueError("a host count is needed when some OS templates have no count")
    if fixed > total:
        raise ValueError(f"OS template counts add up to {fixed}, more than the host count {total}")
    if fixed < total and not uncounted:
        raise ValueError(f"OS template counts add up to {fixed}, not the host count {total}")
    out: list[OsTemplate] = [t for t, n in counted for _ in range(n)]
    out.extend(uncounted[i % len(uncounted)] for i in range(total - fixed))
    return out


# Detail-query answers. Each builder gets the template and identity and returns the rows osquery would.
AnswerBuilder = Callable[[OsTemplate, HostIdentity], Rows]


def _one(row: Row) -> Rows:
    return [row]


def _users(t: OsTemplate, ident: HostIdentity) -> Rows:
    if t.family == "windows":
        return [
            {
                "uid": "500",
                "username": "Administrator",
                "type": "local",
                "groupname": "Administrators",
                "shell": t.login_shell,
            },
            {"uid": "1001", "username": ident.username, "type": "local", "groupname": "Users", "shell": t.login_shell},
        ]
    home_uid = "501" if t.family == "darwin" else "1000"
    return [
        {
            "uid": "0",
            "username": "root",
            "type": "",
            "groupname": "root" if t.family == "linux" else "wheel",
            "shell": "/bin/sh" if t.family == "darwin" else "/bin/bash",
        },
        {"uid": home_uid, "username": ident.username, "type": "", "groupname": t.admin_group, "shell": t.login_shell},
    ]


def _software(t: OsTemplate, ident: HostIdentity) -> Rows:
    rows = [software_row(sw) for sw in t.software]
    # One host-unique package, as osquery-perf's unique_software_count=1, so software tables grow with hosts.
    unique_source = {"darwin": "apps", "windows": "programs"}.get(t.family, t.software[0].source)
    rows.append(
        software_row(
            Software(name=f"fleet-sim-unique-{ident.index}", version=f"1.0.{ident.index % 97}", source=unique_source)
        )
    )
    return rows


def _network(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [{"address": ident.ip, "mac": ident.mac}]


def _disk(t: OsTemplate, ident: HostIdentity) -> Rows:
    gigs_avail, pct, total = t.disk
    return [
        {
            "gigs_disk_space_available": gigs_avail,
            "percent_disk_space_available": pct,
            "gigs_total_disk_space": total,
            "gigs_all_disk_space": total,
        }
    ]


def _osquery_flags(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [
        {"name": "config_refresh", "value": "60"},
        {"name": "config_tls_refresh", "value": "60"},
        {"name": "distributed_interval", "value": "10"},
        {"name": "logger_tls_period", "value": "10"},
    ]


def _os_unix_like(t: OsTemplate, ident: HostIdentity) -> Rows:
    ov = t.os_version
    return [
        {
            "name": ov["name"],
            "version": ov["version"],
            "major": ov["major"],
            "minor": ov["minor"],
            "patch": ov["patch"],
            "build": ov["build"],
            "arch": ov["arch"],
            "platform": ov["platform"],
            "extra": ov.get("extra", ""),
            "kernel_version": t.kernel_version,
        }
    ]


def _os_windows(t: OsTemplate, ident: HostIdentity) -> Rows:
    ov = t.os_version
    return [
        {
            "name": ov["name"],
            "display_version": t.display_version,
            "platform": ov["platform"],
            "arch": ov["arch"],
            "kernel_version": t.kernel_version,
            "version": t.kernel_version,
        }
    ]


def _os_version_windows(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [
        {
            "name": t.os_version["name"],
            "display_version": t.display_version,
            "version": t.kernel_version,
            "installation_type": "Client",
        }
    ]


def _mdm(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [{"enrolled": "false", "server_url": "", "installed_from_dep": "false", "payload_identifier": ""}]


def _mdm_windows(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [
        {
            "aad_resource_id": "",
            "discovery_service_url": "",
            "provider_id": "",
            "installation_type": "Client",
            "is_federated": "0",
        }
    ]


def _munki(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [{"version": "6.3.3", "errors": "", "warnings": ""}]


def _chrome_profiles(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [{"email": f"{ident.username}@example.com"}]


def _battery(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [
        {
            "serial_number": f"B{ident.serial}",
            "cycle_count": str(50 + ident.index % 900),
            "health": "Good",
            "designed_capacity": "5000",
            "max_capacity": "4700",
        }
    ]


def _orbit(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [
        {
            "version": "1.24.0",
            "device_auth_token": f"tok-{ident.uuid.lower()}",
            "enrolled": "true",
            "last_recorded_error": "",
            "orbit_channel": "stable",
            "osqueryd_channel": "stable",
            "desktop_channel": "stable",
            "desktop_version": "1.24.0",
            "scripts_enabled": "0",
            "uptime": "3600",
        }
    ]


def _disk_encryption_flag(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [{"1": "1"}] if ident.index % 4 else []


def _disk_encryption_linux(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [{"path": "/", "encrypted": "1" if ident.index % 4 else "0"}]


def _windows_updates(t: OsTemplate, ident: HostIdentity) -> Rows:
    return [{"date": "1712700000", "title": "2024-04 Cumulative Update for Windows 11 Version 23H2 (KB5036893)"}]


def _empty(t: OsTemplate, ident: HostIdentity) -> Rows:
    return []


DETAIL_ANSWERS: dict[str, tuple[frozenset[str] | None, AnswerBuilder]] = {
    # name: (families it exists on, None = all; builder)
    "os_version": (None, lambda t, i: _one(dict(t.os_version))),
    "osquery_info": (None, lambda t, i: _one(t.osquery_info_row(i))),
    "system_info": (None, lambda t, i: _one(t.system_info_row(i))),
    "platform_info": (None, lambda t, i: _one(dict(t.platform_info))),
    "osquery_flags": (None, _osquery_flags),
    "network_interface_unix": (frozenset({"darwin", "linux"}), _network),
    "network_interface_windows": (frozenset({"windows"}), _network),
    "os_version_windows": (frozenset({"windows"}), _os_version_windows),
    "os_unix_like": (frozenset({"darwin", "linux"}), _os_unix_like),
    "os_windows": (frozenset({"windows"}), _os_windows),
    "disk_space_unix": (frozenset({"linux"}), _disk),
    "disk_space_darwin": (frozenset({"darwin"}), _disk),
    "disk_space_darwin_legacy": (frozenset({"darwin"}), _disk),
    "disk_space_windows": (frozenset({"windows"}), _disk),
    "users": (None, _users),
    "software_macos": (frozenset({"darwin"}), _software),
    "software_linux": (frozenset({"linux"}), _software),
    "software_windows": (frozenset({"windows"}), _software),
    "software_vscode_extensions": (None, _empty),
    "software_macos_codesign": (frozenset({"darwin"}), _empty),
    "software_macos_firefox": (frozenset({"darwin"}), _empty),
    "munki_info": (frozenset({"darwin"}), _munki),
    "mdm": (frozenset({"darwin"}), _mdm),
    "mdm_windows": (frozenset({"windows"}), _mdm_windows),
    "google_chrome_profiles": (None, _chrome_profiles),
    "battery": (frozenset({"darwin", "windows"}), _battery),
    "orbit_info": (None, _orbit),
    "disk_encryption_darwin": (frozenset({"darwin"}), _disk_encryption_flag),
    "disk_encryption_linux": (frozenset({"linux"}), _disk_encryption_linux),
    "disk_encryption_windows": (frozenset({"windows"}), _disk_encryption_flag),
    "windows_update_history": (frozenset({"windows"}), _windows_updates),
    "certificates_darwin": (frozenset({"darwin"}), _empty),
    "certificates_windows": (frozenset({"windows"}), _empty),
    "mdm_config_profiles_darwin": (frozenset({"darwin"}), _empty),
    "mdm_disk_encryption_key_file_darwin": (frozenset({"darwin"}), _empty),
    "mdm_disk_encryption_key_file_lines_darwin": (frozenset({"darwin"}), _empty),
    "mdm_device_id_windows": (frozenset({"windows"}), _empty),
}

# Tables whose rows a live or scheduled query over them returns (`SELECT * FROM <table>` and the like).
TABLE_ROWS: Mapping[str, AnswerBuilder] = {
    "os_version": DETAIL_ANSWERS["os_version"][1],
    "osquery_info": DETAIL_ANSWERS["osquery_info"][1],
    "system_info": DETAIL_ANSWERS["system_info"][1],
    "platform_info": DETAIL_ANSWERS["platform_info"][1],
    "users": _users,
    "time": lambda t, i: [{"hour": "12", "minutes": "0", "seconds": "0"}],
    "uptime": lambda t, i: [{"days": "1", "hours": "0", "minutes": "0", "seconds": "0", "total_seconds": "86400"}],
}

_SOFTWARE_NAMES = frozenset({"software_macos", "software_linux", "software_windows"})


def is_software_query(name: str) -> bool:
    return name in _SOFTWARE_NAMES


_TABLE_RE = re.compile(r"\b(?:from|join)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def tables_in(sql: str) -> list[str]:
    """Table names after FROM/JOIN (lower-cased). Crude, but enough for Fleet's and users' simple SQL."""
    return [m.group(1).lower() for m in _TABLE_RE.finditer(sql)]
