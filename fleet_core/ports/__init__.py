"""The ports: what the core needs from storage, crypto, mail and time, one module per aggregate or
concern.

Each method's docstring is its contract; the contract suite in tests/contract enforces it for
every adapter (in-memory and Postgres/Redis). Methods raise only fleet_core.errors. Import ports from
here (``from fleet_core.ports import HostRepository``); the modules only group them.
"""

from fleet_core.ports.activities import ActivityRepository
from fleet_core.ports.carves import CarveRepository, CarveStore
from fleet_core.ports.config import AppConfigRepository, EnrollSecretRepository
from fleet_core.ports.device_tokens import DeviceTokenRepository
from fleet_core.ports.diagnostics import DatabaseDiagnostics, ProcessDiagnostics
from fleet_core.ports.error_reports import ErrorReportStore
from fleet_core.ports.host_aggregates import HostAggregateRepository
from fleet_core.ports.host_inventory import HostInventoryRepository
from fleet_core.ports.host_listing import HostListing
from fleet_core.ports.hosts import HostRepository
from fleet_core.ports.infrastructure import (
    Clock,
    HealthCheck,
    InvalidationBus,
    LogDestination,
    Mailer,
    PackSource,
    PasswordHasher,
    RateLimiter,
    TokenGenerator,
    WebhookSender,
)
from fleet_core.ports.installers import InstallerStore
from fleet_core.ports.integrations import IntegrationChecker, TicketSender
from fleet_core.ports.labels import LabelRepository
from fleet_core.ports.live_queries import CampaignRepository, LiveQueryStore, ResultSubscription
from fleet_core.ports.metrics import NO_METRICS, Metrics
from fleet_core.ports.packs import PackRepository
from fleet_core.ports.policies import PolicyRepository
from fleet_core.ports.queries import QueryRepository
from fleet_core.ports.schedule_lock import ScheduleLock
from fleet_core.ports.software import SoftwareRepository
from fleet_core.ports.sso import SAMLServiceProvider, SSOStateStore
from fleet_core.ports.teams import TeamRepository
from fleet_core.ports.uow import UnitOfWork, UnitOfWorkFactory
from fleet_core.ports.users import InviteRepository, PasswordResetRepository, SessionRepository, UserRepository
from fleet_core.ports.vulnerabilities import VulnerabilityRepository
from fleet_core.ports.vulnerability_automations import VulnerabilityAnnouncementRepository
from fleet_core.ports.webhooks import WebhookRepository

__all__ = [
    "NO_METRICS",
    "ActivityRepository",
    "AppConfigRepository",
    "CampaignRepository",
    "CarveRepository",
    "CarveStore",
    "Clock",
    "DatabaseDiagnostics",
    "DeviceTokenRepository",
    "EnrollSecretRepository",
    "ErrorReportStore",
    "HealthCheck",
    "HostAggregateRepository",
    "HostInventoryRepository",
    "HostListing",
    "HostRepository",
    "InstallerStore",
    "IntegrationChecker",
    "InvalidationBus",
    "InviteRepository",
    "LabelRepository",
    "LiveQueryStore",
    "LogDestination",
    "Mailer",
    "Metrics",
    "PackRepository",
    "PackSource",
    "PasswordHasher",
    "PasswordResetRepository",
    "PolicyRepository",
    "ProcessDiagnostics",
    "QueryRepository",
    "RateLimiter",
    "ResultSubscription",
    "SAMLServiceProvider",
    "SSOStateStore",
    "ScheduleLock",
    "SessionRepository",
    "SoftwareRepository",
    "TeamRepository",
    "TicketSender",
    "TokenGenerator",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "VulnerabilityAnnouncementRepository",
    "VulnerabilityRepository",
    "WebhookRepository",
    "WebhookSender",
]
