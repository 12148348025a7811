"""Ticket systems (Jira, Zendesk): checking an integration's settings and creating tickets."""

from __future__ import annotations

from typing import Protocol

from fleet_core.model.config import JiraIntegration, ZendeskIntegration


class IntegrationChecker(Protocol):
    """Asks the ticket system whether an integration's settings work, when they are saved."""

    async def check_jira(self, jira: JiraIntegration) -> None:
        """Pass if the credentials are accepted (GET /rest/api/2/myself) and the project exists
        (GET /rest/api/2/project/{key}).

        Raises:
            InvalidArgument: naming the field refused (url, api_token, project_key).
        """
        ...

    async def check_zendesk(self, zendesk: ZendeskIntegration) -> None:
        """Pass if the credentials are accepted (GET /api/v2/users/me.json) and the group exists
        (GET /api/v2/groups/{id}.json).

        Raises:
            InvalidArgument: naming the field refused (url, api_token, group_id).
        """
        ...


class TicketSender(Protocol):
    """Creates one ticket; a ticket is never partly created."""

    async def create_jira_issue(self, jira: JiraIntegration, *, summary: str, description: str) -> None:
        """POST /rest/api/2/issue: a Task in the integration's project.

        Raises:
            Unavailable: the request failed or was refused; it may be retried.
        """
        ...

    async def create_zendesk_ticket(self, zendesk: ZendeskIntegration, *, subject: str, body: str) -> None:
        """POST /api/v2/tickets.json: a ticket in the integration's group.

        Raises:
            Unavailable: the request failed or was refused; it may be retried.
        """
        ...
