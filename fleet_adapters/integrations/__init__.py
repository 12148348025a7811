"""Ticket systems over HTTP: Jira's REST API v2 and Zendesk's API v2 (fleet_core.ports.integrations)."""

from fleet_adapters.integrations.http import HttpTicketSystems

__all__ = ["HttpTicketSystems"]
