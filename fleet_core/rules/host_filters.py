"""The hosts filters of Fleet's API: which values each one takes and which ones combine.

The transports parse query strings and bodies into plain values and hand them here; the
storage adapters rely on a HostFilter having passed through one of these functions.
"""

from __future__ import annotations

from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HostFilter, HostStatus

STATUSES = frozenset(s.value for s in HostStatus)
POLICY_RESPONSES = frozenset({"passing", "failing"})
MDM_ENROLLMENT_STATUSES = frozenset({"manual", "automatic", "unenrolled"})


def os_name_and_version(os_name: str | None, os_version: str | None) -> list[tuple[str, str]]:
    """The problems with an os_name/os_version pair: Fleet filters by both or by neither."""
    problems = []
    if os_name and not os_version:
        problems.append(("os_version", "is required when os_name is given"))
    if os_version and not os_name:
        problems.append(("os_name", "is required when os_version is given"))
    return problems


def check_os_name_and_version(os_name: str | None, os_version: str | None) -> None:
    """Raises InvalidArgument unless both or neither of os_name and os_version are given."""
    problems = os_name_and_version(os_name, os_version)
    if problems:
        raise InvalidArgument(*problems)


def host_filter(
    *,
    query: str | None = None,
    status: str | None = None,
    team_id: int | None = None,
    label_id: int | None = None,
    policy_id: int | None = None,
    policy_response: str | None = None,
    software_id: int | None = None,
    os_id: int | None = None,
    os_name: str | None = None,
    os_version: str | None = None,
    mdm_id: int | None = None,
    mdm_enrollment_status: str | None = None,
    munki_issue_id: int | None = None,
) -> HostFilter:
    """The filters shared by list, count, report, transfer and bulk delete, validated.

    Blank text counts as not given, as it does in Fleet's query strings.

    Raises:
        InvalidArgument: one problem per offending parameter.
    """
    problems: list[tuple[str, str]] = []
    status = status or None
    if status is not None and status not in STATUSES:
        problems.append(("status", "must be one of new, online, offline, missing or mia"))
    policy_response = policy_response or None
    if policy_id is not None and policy_response is None:
        problems.append(("policy_response", "is required when policy_id is given"))
    if policy_response is not None:
        if policy_id is None:
            problems.append(("policy_id", "is required when policy_response is given"))
        if policy_response not in POLICY_RESPONSES:
            problems.append(("policy_response", "must be passing or failing"))
    os_name, os_version = os_name or None, os_version or None
    problems += os_name_and_version(os_name, os_version)
    mdm_enrollment_status = mdm_enrollment_status or None
    if mdm_enrollment_status is not None and mdm_enrollment_status not in MDM_ENROLLMENT_STATUSES:
        problems.append(("mdm_enrollment_status", "must be one of manual, automatic or unenrolled"))
    # Fleet: "A valid label ID. It cannot be used alongside policy or mdm filters."
    if label_id is not None and (policy_id is not None or mdm_id is not None or mdm_enrollment_status is not None):
        problems.append(("label_id", "cannot be used alongside policy or mdm filters"))
    if problems:
        raise InvalidArgument(*problems)
    return HostFilter(
        query=(query or "").strip(),
        status=HostStatus(status) if status else None,
        # team_id=0 is how Fleet's API asks for the hosts that belong to no team.
        team_id=team_id or None,
        no_team=team_id == 0,
        label_id=label_id,
        policy_id=policy_id,
        policy_response=policy_response,
        software_id=software_id,
        os_id=os_id,
        os_name=os_name,
        os_version=os_version,
        mdm_id=mdm_id,
        mdm_enrollment_status=mdm_enrollment_status,
        munki_issue_id=munki_issue_id,
    )


def bulk_host_filter(*, query: str, status: str | None, label_id: int | None, team_id: int | None) -> HostFilter:
    """The ``filters`` object of transfer-by-filter and bulk delete, validated.

    Raises:
        InvalidArgument: naming ``filters.<field>``, as Fleet does for this body.
    """
    if label_id is not None and status:
        raise InvalidArgument(("filters.label_id", "cannot be used together with status"))
    try:
        return host_filter(query=query, status=status, label_id=label_id, team_id=team_id)
    except InvalidArgument as exc:
        raise InvalidArgument(*[(f"filters.{name}", reason) for name, reason in exc.problems]) from None


def is_unfiltered(filters: HostFilter) -> bool:
    """Whether the filter matches every host the viewer can see (nothing narrows it)."""
    return filters == HostFilter()
