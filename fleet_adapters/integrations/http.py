"""HttpTicketSystems: checks Jira and Zendesk settings and creates tickets with httpx.

Jira authenticates with HTTP basic auth, the username (an email on Jira Cloud) and an API token;
Zendesk with basic auth as ``{email}/token`` and the API token. Neither credential is logged or
put into an error message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from fleet_core import version
from fleet_core.errors import InvalidArgument, Unavailable
from fleet_core.model.config import JiraIntegration, ZendeskIntegration

DEFAULT_TIMEOUT_SECONDS = 30.0
# Checks run while an admin's PATCH /config waits (holding the configuration row): keep them short.
CHECK_TIMEOUT_SECONDS = 10.0


class HttpTicketSystems:
    """Implements both IntegrationChecker and TicketSender. One short-lived client per call:
    checks happen when settings are saved and tickets are rare."""

    def __init__(self, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 check_timeout_seconds: float = CHECK_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout_seconds
        self._check_timeout = check_timeout_seconds

    def _client(self, base_url: str, auth: tuple[str, str], *, checking: bool = False) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base_url.rstrip("/"), auth=auth,
                                 timeout=self._check_timeout if checking else self._timeout,
                                 follow_redirects=False,
                                 headers={"User-Agent": f"fleet-py/{version.VERSION}", "Accept": "application/json"})

    async def _get(self, client: httpx.AsyncClient, path: str) -> httpx.Response:
        try:
            return await client.get(path)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise InvalidArgument(("url", f"could not reach the server: {type(exc).__name__}")) from None

    async def check_jira(self, jira: JiraIntegration) -> None:
        async with self._client(jira.url, (jira.username, jira.api_token), checking=True) as client:
            me = await self._get(client, "/rest/api/2/myself")
            _refused_credentials(me, "Jira")
            project = await self._get(client, f"/rest/api/2/project/{quote(jira.project_key, safe='')}")
            if project.status_code == 404:
                raise InvalidArgument(("project_key", f"Jira project {jira.project_key} does not exist or is "
                                                      "not visible to this user"))
            _unexpected(project, "Jira")

    async def check_zendesk(self, zendesk: ZendeskIntegration) -> None:
        async with self._client(zendesk.url, (f"{zendesk.email}/token", zendesk.api_token), checking=True) as client:
            me = await self._get(client, "/api/v2/users/me.json")
            _refused_credentials(me, "Zendesk")
            # Zendesk answers unauthenticated callers with an anonymous user rather than a 401.
            user = _json(me).get("user")
            if not isinstance(user, dict) or user.get("id") is None:
                raise InvalidArgument(("api_token", "Zendesk did not accept the email and API token"))
            group = await self._get(client, f"/api/v2/groups/{zendesk.group_id}.json")
            if group.status_code == 404:
                raise InvalidArgument(("group_id", f"Zendesk group {zendesk.group_id} does not exist"))
            _unexpected(group, "Zendesk")

    async def create_jira_issue(self, jira: JiraIntegration, *, summary: str, description: str) -> None:
        body = {"fields": {"project": {"key": jira.project_key}, "issuetype": {"name": "Task"},
                           "summary": summary, "description": description}}
        async with self._client(jira.url, (jira.username, jira.api_token)) as client:
            await _create(client, "/rest/api/2/issue", body, "Jira")

    async def create_zendesk_ticket(self, zendesk: ZendeskIntegration, *, subject: str, body: str) -> None:
        ticket = {"ticket": {"subject": subject, "comment": {"body": body}, "group_id": zendesk.group_id}}
        async with self._client(zendesk.url, (f"{zendesk.email}/token", zendesk.api_token)) as client:
            await _create(client, "/api/v2/tickets.json", ticket, "Zendesk")


async def _create(client: httpx.AsyncClient, path: str, body: dict[str, Any], service: str) -> None:
    try:
        response = await client.post(path, json=body)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise Unavailable(f"{service} request failed: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise Unavailable(f"{service} answered {response.status_code}")


def _refused_credentials(response: httpx.Response, service: str) -> None:
    if response.status_code in (401, 403):
        raise InvalidArgument(("api_token", f"{service} did not accept the credentials"))
    _unexpected(response, service)


def _unexpected(response: httpx.Response, service: str) -> None:
    if not 200 <= response.status_code < 300:
        raise InvalidArgument(("url", f"{service} answered {response.status_code}; is this the {service} URL?"))
    _json(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise InvalidArgument(("url", "the server did not answer with JSON")) from None
    return body if isinstance(body, dict) else {}
