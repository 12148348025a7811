"""The SQL Fleet sends for each detail query (server/service/osquery_utils/queries.go), verbatim in meaning."""

from __future__ import annotations

from typing import Final


def discovery_table(table: str) -> str:
    """Fleet's discoveryTable: the query runs only where osquery (or an extension) has this table."""
    return f"SELECT 1 FROM osquery_registry WHERE active = true AND registry = 'table' AND name = '{table}'"  # noqa: S608


def all_exist(*subqueries: str) -> str:
    """Fleet's generateSQLForAllExists; trailing semicolons would end the subquery early (fleet#19401)."""
    conditions = " AND ".join(f"EXISTS ({q.strip().rstrip(';')})" for q in subqueries)
    return f"SELECT 1 WHERE {conditions}"


# The interface osquery uses for the default route, private addresses only, lowest metric, IPv4
# first. in_cidr_block needs osquery 5.3, hence the string splitting.
_NETWORK_INTERFACE = """SELECT
    ia.address,
    id.mac
FROM
    interface_addresses ia
    JOIN interface_details id ON id.interface = ia.interface
    -- On Unix ia.interface is the name of the interface,
    -- whereas on Windows ia.interface is the IP of the interface.
    JOIN routes r ON {join}
WHERE
    -- Destination 0.0.0.0/0 or ::/0 (IPv6) is the default route on route tables.
    (r.destination = '0.0.0.0' OR r.destination = '::') AND r.netmask = 0
    -- Type of route is "gateway" for Unix, "remote" for Windows.
    AND r.type = '{route_type}'
    -- We are only interested on private IPs (some devices have their Public IP as Primary IP too).
    AND (
        -- Private IPv4 addresses.
        inet_aton(ia.address) IS NOT NULL AND (
            split(ia.address, '.', 0) = '10'
            OR (split(ia.address, '.', 0) = '172' AND (CAST(split(ia.address, '.', 1) AS INTEGER) & 0xf0) = 16)
            OR (split(ia.address, '.', 0) = '192' AND split(ia.address, '.', 1) = '168')
        )
        -- Private IPv6 addresses start with 'fc' or 'fd'.
        OR (inet_aton(ia.address) IS NULL AND regex_match(lower(ia.address), '^f[cd][0-9a-f][0-9a-f]:[0-9a-f:]+', 0) IS NOT NULL)
    )
ORDER BY
    r.metric ASC,
    -- Prefer IPv4 addresses over IPv6 addresses if their route have the same metric.
    inet_aton(ia.address) IS NOT NULL DESC
LIMIT 1;"""  # noqa: E501

NETWORK_INTERFACE_UNIX: Final = _NETWORK_INTERFACE.format(join="r.interface = ia.interface", route_type="gateway")
NETWORK_INTERFACE_WINDOWS: Final = _NETWORK_INTERFACE.format(join="r.interface = ia.address", route_type="remote")
NETWORK_INTERFACE_CHROME: Final = "SELECT ipv4 AS address, mac FROM network_interfaces LIMIT 1"

OS_VERSION: Final = "SELECT * FROM os_version LIMIT 1"

# DisplayVersion is missing on some Windows versions (Server 2019), hence the LEFT JOINs; the UBR
# comes from the registry because kernel_info misreports the build on some Windows 10 releases.
OS_VERSION_WINDOWS: Final = r"""
        WITH display_version_table AS (
            SELECT data as display_version
            FROM registry
            WHERE path = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\DisplayVersion'
        ),
        ubr_table AS (
            SELECT data AS ubr
            FROM registry
            WHERE path ='HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\UBR'
        ),
        installation_type_table AS (
            SELECT data AS installation_type
            FROM registry
            WHERE path = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\InstallationType'
        )
        SELECT
            os.name,
            COALESCE(d.display_version, '') AS display_version,
            COALESCE(CONCAT((SELECT version FROM os_version), '.', u.ubr), k.version) AS version,
            COALESCE(it.installation_type, '') AS installation_type
        FROM
            os_version os,
            kernel_info k
        LEFT JOIN
            display_version_table d
        LEFT JOIN
            ubr_table u
        LEFT JOIN
            installation_type_table it"""

OSQUERY_FLAGS: Final = (
    'select name, value from osquery_flags where name in ("distributed_interval", "config_tls_refresh", '
    '"config_refresh", "logger_tls_period")'
)
OSQUERY_INFO: Final = "select * from osquery_info limit 1"
SYSTEM_INFO: Final = "select * from system_info limit 1"
UPTIME: Final = "select * from uptime limit 1"

_LINUX_ALL_DISKS_CONDITIONS = """WHERE
-- exclude mounts with no space
blocks > 0
AND blocks_size > 0

-- exclude external storage
AND path NOT LIKE '/media%' AND path NOT LIKE '/mnt%'

-- exclude device drivers
AND path NOT LIKE '/dev%'

-- exclude kernel-related mounts
AND path NOT LIKE '/proc%'
AND path NOT LIKE '/sys%'

-- exclude process files
AND path NOT LIKE '/run%'
AND path NOT LIKE '/var/run%'

-- exclude boot files
AND path NOT LIKE '/boot%'

-- exclude snap packages
AND path NOT LIKE '/snap%' AND path NOT LIKE '/var/snap%'

-- exclude virtualized mounts, would double-count bare metal storage
AND path NOT LIKE '/var/lib/docker%'
AND path NOT LIKE '/var/lib/containers%'

AND type IN (
'ext4',
'ext3',
'ext2',
'xfs',
'btrfs',
'ntfs',
'vfat',
'fuseblk', --seen on NTFS and exFAT volumes mounted via FUSE
'zfs' --also valid storage
)
AND (
device LIKE '/dev/sd%'
OR device LIKE '/dev/hd%'
OR device LIKE '/dev/vd%'
OR device LIKE '/dev/nvme%'
OR device LIKE '/dev/mapper%'
OR device LIKE '/dev/md%'
OR device LIKE '/dev/dm-%'
)"""

DISK_SPACE_UNIX: Final = f"""
        SELECT (blocks_available * 100 / blocks) AS percent_disk_space_available,
               round((blocks_available * blocks_size * 10e-10),2) AS gigs_disk_space_available,
               round((blocks           * blocks_size * 10e-10),2) AS gigs_total_disk_space,
                     (SELECT round(SUM(blocks * blocks_size) * 10e-10, 2) FROM mounts {_LINUX_ALL_DISKS_CONDITIONS}) AS gigs_all_disk_space
        FROM mounts WHERE path = '/' LIMIT 1;"""  # noqa: E501, S608

DISK_SPACE_DARWIN: Final = """
SELECT
    ROUND(bytes_available * 100.0 / bytes_total, 2) AS percent_disk_space_available,
    ROUND(bytes_available * 10e-10, 2) AS gigs_disk_space_available,
    ROUND(bytes_total * 10e-10, 2) AS gigs_total_disk_space
FROM disk_space LIMIT 1;"""
DISK_SPACE_DARWIN_DISCOVERY: Final = discovery_table("disk_space")

DISK_SPACE_DARWIN_LEGACY: Final = """
        SELECT (blocks_available * 100 / blocks) AS percent_disk_space_available,
               round((blocks_available * blocks_size * 10e-10),2) AS gigs_disk_space_available,
               round((blocks           * blocks_size * 10e-10),2) AS gigs_total_disk_space
        FROM mounts WHERE path = '/' LIMIT 1;"""
DISK_SPACE_DARWIN_LEGACY_DISCOVERY: Final = f"SELECT 1 WHERE NOT EXISTS ({discovery_table('disk_space')});"

DISK_SPACE_WINDOWS: Final = """
SELECT ROUND((sum(free_space) * 100 * 10e-10) / (sum(size) * 10e-10)) AS percent_disk_space_available,
       ROUND(sum(free_space) * 10e-10) AS gigs_disk_space_available,
       ROUND(sum(size)       * 10e-10) AS gigs_total_disk_space
FROM logical_drives WHERE file_system = 'NTFS' LIMIT 1;"""

KUBEQUERY_INFO: Final = "SELECT * from kubernetes_info"

MDM: Final = "select enrolled, server_url, installed_from_dep, payload_identifier from mdm;"

# One host can hold several enrollments under Enrollments\; the one with a UPN and the longest
# discovery URL is the MDM (EnrollmentState 0-3 are Intune's "still counts" states).
MDM_WINDOWS: Final = r"""
                    WITH registry_keys AS (
                        SELECT *
                        FROM registry
                        WHERE path LIKE 'HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Enrollments\%%'
                    ),
                    enrollment_info AS (
                        SELECT
                            MAX(CASE WHEN name = 'UPN' THEN data END) AS upn,
                            MAX(CASE WHEN name = 'DiscoveryServiceFullURL' THEN data END) AS discovery_service_url,
                            MAX(CASE WHEN name = 'ProviderID' THEN data END) AS provider_id,
                            MAX(CASE WHEN name = 'EnrollmentState' THEN data END) AS state,
                            MAX(CASE WHEN name = 'AADResourceID' THEN data END) AS aad_resource_id
                        FROM registry_keys
                        GROUP BY key
                    ),
                    installation_info AS (
                        SELECT data AS installation_type
                        FROM registry
                        WHERE path = 'HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\InstallationType'
                        LIMIT 1
                    )
                    SELECT
                        e.aad_resource_id,
                        e.discovery_service_url,
                        e.provider_id,
                        i.installation_type
                    FROM installation_info i
                    LEFT JOIN enrollment_info e ON e.upn IS NOT NULL
            -- coalesce to 'unknown' and keep that state in the list
            -- in order to account for hosts that might not have this
            -- key, and servers
                    WHERE COALESCE(e.state, '0') IN ('0', '1', '2', '3')
            -- old enrollments that aren't completely cleaned up may still be around
            -- in the registry so we want to make sure we return the one with an actual
            -- discovery URL set if there is one. LENGTH is used here to prefer those
            -- with actual URLs over empty string/null if there are multiple
                    ORDER BY LENGTH(e.discovery_service_url) DESC
                    LIMIT 1;
        """

MUNKI_INFO: Final = "select version, errors, warnings from munki_info;"
CHROMEOS_PROFILE_USER_INFO: Final = "SELECT email FROM users"
GOOGLE_CHROME_PROFILES: Final = "SELECT email FROM google_chrome_profiles WHERE NOT ephemeral AND email <> ''"
# health is left out: osquery misreports it on Apple silicon (fleet#6763) and Windows lacks it.
BATTERY: Final = "SELECT serial_number, cycle_count, designed_capacity, max_capacity FROM battery"
ORBIT_INFO: Final = "SELECT * FROM orbit_info"

# The cached_groups CTE makes SQLite build `groups` once instead of once per user, which was
# very expensive on Windows domain controllers.
USERS: Final = r"""WITH cached_groups AS (select * from groups)
 SELECT uid, uuid, username, type, groupname, shell
 FROM users LEFT JOIN cached_groups USING (gid)
 WHERE type <> 'special' AND shell NOT LIKE '%/false' AND shell NOT LIKE '%/nologin' AND shell NOT LIKE '%/shutdown' AND shell NOT LIKE '%/halt' AND username NOT LIKE '%$' AND username NOT LIKE '\_%' ESCAPE '\' AND NOT (username = 'sync' AND shell ='/bin/sync' AND directory <> '')"""  # noqa: E501
USERS_CHROME: Final = "SELECT uid, username, email FROM users"


def _with_cached_users(template: str) -> str:
    return template.replace("{users}", USERS)


# CROSS JOIN keeps SQLite from reordering the loops, which the *_extensions tables need (uid is a
# required constraint there). Homebrew casks that ship an .app are already listed through `apps`.
SOFTWARE_MACOS: Final = _with_cached_users("""WITH cached_users AS ({users})
SELECT
  COALESCE(NULLIF(display_name, ''), NULLIF(bundle_name, ''), NULLIF(NULLIF(bundle_executable, ''), 'run.sh'),
    CASE WHEN name IS NOT NULL AND lower(name) LIKE '%.app' THEN substr(name, 1, length(name) - 4) ELSE name END
  ) AS name,
  COALESCE(NULLIF(bundle_short_version, ''), bundle_version) AS version,
  bundle_identifier AS bundle_identifier,
  '' AS extension_id,
  '' AS extension_for,
  'apps' AS source,
  '' AS vendor,
  last_opened_time AS last_opened_at,
  path AS installed_path
FROM apps
UNION
SELECT
  name AS name,
  version AS version,
  '' AS bundle_identifier,
  identifier AS extension_id,
  browser_type AS extension_for,
  'chrome_extensions' AS source,
  '' AS vendor,
  0 AS last_opened_at,
  path AS installed_path
FROM cached_users CROSS JOIN chrome_extensions USING (uid)
UNION
SELECT
  name AS name,
  version AS version,
  '' AS bundle_identifier,
  identifier AS extension_id,
  'firefox' AS extension_for,
  'firefox_addons' AS source,
  '' AS vendor,
  0 AS last_opened_at,
  path AS installed_path
FROM cached_users CROSS JOIN firefox_addons USING (uid)
UNION
SELECT
  name As name,
  version AS version,
  '' AS bundle_identifier,
  '' AS extension_id,
  '' AS extension_for,
  'safari_extensions' AS source,
  '' AS vendor,
  0 AS last_opened_at,
  path AS installed_path
FROM cached_users CROSS JOIN safari_extensions USING (uid)
UNION
SELECT
  name AS name,
  version AS version,
  '' AS bundle_identifier,
  '' AS extension_id,
  '' AS extension_for,
  'homebrew_packages' AS source,
  '' AS vendor,
  0 AS last_opened_at,
  path AS installed_path
FROM homebrew_packages
WHERE type = 'formula'
UNION
SELECT
  name AS name,
  version AS version,
  '' AS bundle_identifier,
  '' AS extension_id,
  '' AS browser,
  'npm_packages' AS source,
  '' AS vendor,
  0 AS last_opened_at,
  path AS installed_path
FROM npm_packages
UNION
SELECT
  name AS name,
  version AS version,
  '' AS bundle_identifier,
  '' AS extension_id,
  '' AS extension_for,
  'homebrew_packages' AS source,
  '' AS vendor,
  0 AS last_opened_at,
  path AS installed_path
FROM homebrew_packages
WHERE type = 'cask'
AND NOT EXISTS (SELECT 1 FROM file WHERE file.path LIKE CONCAT(homebrew_packages.path, '/%%') AND file.path LIKE '%.app%' LIMIT 1);
""")  # noqa: E501

SOFTWARE_LINUX: Final = _with_cached_users("""WITH cached_users AS ({users})
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'deb_packages' AS source,
  '' AS release,
  '' AS vendor,
  '' AS arch,
  '' AS installed_path
FROM deb_packages
WHERE status LIKE '% ok installed'
UNION
SELECT
  package AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'portage_packages' AS source,
  '' AS release,
  '' AS vendor,
  '' AS arch,
  '' AS installed_path
FROM portage_packages
UNION
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'rpm_packages' AS source,
  release AS release,
  vendor AS vendor,
  arch AS arch,
  '' AS installed_path
FROM rpm_packages
UNION
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'npm_packages' AS source,
  '' AS release,
  '' AS vendor,
  '' AS arch,
  path AS installed_path
FROM npm_packages
UNION
SELECT
  name AS name,
  version AS version,
  identifier AS extension_id,
  browser_type AS extension_for,
  'chrome_extensions' AS source,
  '' AS release,
  '' AS vendor,
  '' AS arch,
  path AS installed_path
FROM cached_users CROSS JOIN chrome_extensions USING (uid)
UNION
SELECT
  name AS name,
  version AS version,
  identifier AS extension_id,
  'firefox' AS extension_for,
  'firefox_addons' AS source,
  '' AS release,
  '' AS vendor,
  '' AS arch,
  path AS installed_path
FROM cached_users CROSS JOIN firefox_addons USING (uid);
""")

SOFTWARE_WINDOWS: Final = _with_cached_users("""WITH cached_users AS ({users})
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'programs' AS source,
  publisher AS vendor,
  install_location AS installed_path,
  upgrade_code AS upgrade_code
FROM programs
UNION
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'ie_extensions' AS source,
  '' AS vendor,
  path AS installed_path,
  '' as upgrade_code
FROM ie_extensions
UNION
SELECT
  name AS name,
  version AS version,
  identifier AS extension_id,
  browser_type AS extension_for,
  'chrome_extensions' AS source,
  '' AS vendor,
  path AS installed_path,
  '' as upgrade_code
FROM cached_users CROSS JOIN chrome_extensions USING (uid)
UNION
SELECT
  name AS name,
  version AS version,
  identifier AS extension_id,
  'firefox' AS extension_for,
  'firefox_addons' AS source,
  '' AS vendor,
  path AS installed_path,
  '' as upgrade_code
FROM cached_users CROSS JOIN firefox_addons USING (uid)
UNION
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'chocolatey_packages' AS source,
  '' AS vendor,
  path AS installed_path,
  '' as upgrade_code
FROM chocolatey_packages
""")

SOFTWARE_CHROME: Final = """SELECT
  name AS name,
  version AS version,
  identifier AS extension_id,
  browser_type AS extension_for,
  'chrome_extensions' AS source,
  '' AS vendor,
  '' AS installed_path
FROM chrome_extensions"""

# Before osquery 5.16 python_packages could not be joined with users; the two variants are
# mutually exclusive through their discovery queries (VERSION_COMPARE needs osquery 5.11, fleet#27126).
SOFTWARE_PYTHON_PACKAGES: Final = """
        SELECT
          name AS name,
          version AS version,
          '' AS extension_id,
          '' AS extension_for,
          'python_packages' AS source,
          '' AS vendor,
          path AS installed_path
        FROM python_packages
    """
SOFTWARE_PYTHON_PACKAGES_DISCOVERY: Final = """SELECT 1 FROM (
    SELECT
    CAST(SUBSTR(version, 1, INSTR(version, '.') - 1) AS INTEGER) major,
    CAST(SUBSTR(version, INSTR(version, '.') + 1, INSTR(SUBSTR(version, INSTR(version, '.') + 1), '.') - 1) AS INTEGER) minor from osquery_info
) AS version_parts WHERE major < 5 OR (major = 5 AND minor < 16)"""  # noqa: E501
SOFTWARE_PYTHON_PACKAGES_WITH_USERS_DIR: Final = _with_cached_users("""WITH cached_users AS ({users})
        SELECT
          name AS name,
          version AS version,
          '' AS extension_id,
          '' AS extension_for,
          'python_packages' AS source,
          '' AS vendor,
          path AS installed_path
        FROM cached_users CROSS JOIN python_packages USING (uid)
    """)
SOFTWARE_PYTHON_PACKAGES_WITH_USERS_DIR_DISCOVERY: Final = """SELECT 1 FROM (
    SELECT
    CAST(substr(version, 1, instr(version, '.') - 1) AS INTEGER) major,
    CAST(substr(version, instr(version, '.') + 1, instr(substr(version, instr(version, '.') + 1), '.') - 1) AS INTEGER) minor from osquery_info
) AS version_parts WHERE major > 5 OR (major = 5 AND minor >= 16)"""  # noqa: E501

SOFTWARE_VSCODE_EXTENSIONS: Final = _with_cached_users("""WITH cached_users AS ({users})
SELECT
  name,
  version,
  '' AS bundle_identifier,
  vscode_extensions.uuid AS extension_id,
  vscode_edition AS extension_for,
  'vscode_extensions' AS source,
  publisher AS vendor,
  '' AS last_opened_at,
  path AS installed_path
FROM cached_users CROSS JOIN vscode_extensions USING (uid)""")

SOFTWARE_JETBRAINS_PLUGINS: Final = _with_cached_users("""WITH cached_users AS ({users})
SELECT
  name,
  version,
  '' AS bundle_identifier,
  '' AS extension_id,
  product_type AS extension_for,
  'jetbrains_plugins' AS source,
  vendor,
  '' AS last_opened_at,
  path AS installed_path
FROM cached_users CROSS JOIN jetbrains_plugins USING (uid)""")

SOFTWARE_LINUX_FLEETD_PACMAN: Final = """
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'pacman_packages' AS source,
  '' AS release,
  '' AS vendor,
  arch AS arch,
  '' AS installed_path
FROM fleetd_pacman_packages"""

SOFTWARE_GO_BINARIES: Final = """
SELECT
  name AS name,
  version AS version,
  '' AS extension_id,
  '' AS extension_for,
  'go_binaries' AS source,
  '' AS release,
  '' AS vendor,
  '' AS arch,
  installed_path AS installed_path
FROM go_binaries"""

# Software override queries (Fleet's SoftwareOverrideQueries, sent as software_<key>).
SOFTWARE_WINDOWS_ACROBAT_DC: Final = r"SELECT 1 FROM registry WHERE key = 'HKEY_LOCAL_MACHINE\SOFTWARE\Adobe\Adobe Acrobat\DC'"  # noqa: E501

SOFTWARE_MACOS_FIREFOX: Final = """
            WITH app_paths AS (
                SELECT path
                FROM apps
                WHERE bundle_identifier = 'org.mozilla.firefox'
            ),
            remoting_name AS (
                SELECT value, path
                FROM parse_ini
                WHERE key = 'RemotingName'
                AND path IN (SELECT CONCAT(path, '/Contents/Resources/application.ini') FROM app_paths)
            )
            SELECT
                CASE
                    WHEN remoting_name.value = 'firefox-esr' THEN 'Firefox ESR.app'
                    ELSE 'Firefox.app'
                END AS name,
                COALESCE(NULLIF(apps.bundle_short_version, ''), apps.bundle_version) AS version,
                apps.bundle_identifier AS bundle_identifier,
                '' AS extension_id,
                '' AS extension_for,
                'apps' AS source,
                '' AS vendor,
                apps.last_opened_time AS last_opened_at,
                apps.path AS installed_path
            FROM apps
            LEFT JOIN remoting_name ON apps.path = REPLACE(remoting_name.path, '/Contents/Resources/application.ini', '')
            WHERE apps.bundle_identifier = 'org.mozilla.firefox'"""  # noqa: E501
SOFTWARE_MACOS_FIREFOX_DISCOVERY: Final = all_exist(
    "SELECT 1 FROM apps WHERE bundle_identifier = 'org.mozilla.firefox' LIMIT 1", discovery_table("parse_ini"))

# Joining prefetch into the main query got it denylisted on test devices, so the server does it.
SOFTWARE_WINDOWS_LAST_OPENED_AT: Final = r"""
        SELECT
          MAX(last_run_time) AS last_opened_at,
          REGEX_MATCH(accessed_files, "VOLUME[^\\]+([^,]+" || REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(filename, '\', '\\'), '.', '\.'), '*', '\*'), '+', '\+'), '?', '\?'), '[', '\['), ']', '\]'), '{', '\{'), '}', '\}'), '(', '\('), ')', '\)'), '|', '\|') || ")", 1) AS executable_path
        FROM prefetch
        GROUP BY executable_path
    """  # noqa: E501

SOFTWARE_DEB_LAST_OPENED_AT: Final = """
        SELECT package, MAX(atime) AS last_opened_at
        FROM deb_package_files
        CROSS JOIN file USING (path)
        WHERE type = 'regular' AND regex_match(file.mode, '[1357]', 0)
        GROUP BY package
    """

SOFTWARE_RPM_LAST_OPENED_AT: Final = """
        SELECT package, MAX(atime) AS last_opened_at
        FROM (SELECT package, path FROM rpm_package_files WHERE regex_match(mode, '[1357]', 0))
        CROSS JOIN file USING (path)
        WHERE type = 'regular'
        GROUP BY package
    """
