"""The service layer: one object per capability, each call one unit of work."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.webhooks import WebhookSchedule
from fleet_core.ports import (
    NO_METRICS,
    CarveStore,
    Clock,
    DatabaseDiagnostics,
    ErrorReportStore,
    HealthCheck,
    InstallerStore,
    IntegrationChecker,
    InvalidationBus,
    LiveQueryStore,
    LogDestination,
    Mailer,
    Metrics,
    PasswordHasher,
    ProcessDiagnostics,
    RateLimiter,
    SAMLServiceProvider,
    ScheduleLock,
    SSOStateStore,
    TicketSender,
    TokenGenerator,
    UnitOfWorkFactory,
    WebhookSender,
)
from fleet_core.ports.vulnerability_feeds import VulnerabilityFeed
from fleet_core.services.activities import ActivityService
from fleet_core.services.agents import AgentService
from fleet_core.services.auth import AuthService
from fleet_core.services.carves import CarveService, NoCarveStore
from fleet_core.services.config import UNCONFIGURED_CHECKER, ConfigService
from fleet_core.services.debug import SERVER_ERRORS, DebugService
from fleet_core.services.deliveries import UNCONFIGURED_TICKETS
from fleet_core.services.device import DeviceService, NoErrorReportStore
from fleet_core.services.hosts import HostService
from fleet_core.services.installers import InstallerService, NoInstallerStore
from fleet_core.services.invites import InviteService
from fleet_core.services.jobs import BackgroundJob, background_jobs, jobs_by_schedule
from fleet_core.services.labels import LabelService
from fleet_core.services.live_queries import LiveQueryService, NoLiveQueryStore
from fleet_core.services.pack_config import PackConfigService
from fleet_core.services.pack_specs import PackSpecService
from fleet_core.services.packs import PackService
from fleet_core.services.policies import PolicyService
from fleet_core.services.queries import QueryService
from fleet_core.services.schedules import ScheduleService
from fleet_core.services.setup import SetupService
from fleet_core.services.software import SoftwareService
from fleet_core.services.specs import SpecService
from fleet_core.services.sso import SSOService
from fleet_core.services.targets import TargetService
from fleet_core.services.teams import TeamService
from fleet_core.services.users import UserService
from fleet_core.services.vulnerabilities import VulnerabilityService
from fleet_core.services.vulnerability_automations import VulnerabilityAutomationService
from fleet_core.services.webhooks import UNCONFIGURED_SENDER, WebhookService


@attrs.frozen
class Services:
    auth: AuthService
    setup: SetupService
    users: UserService
    invites: InviteService
    config: ConfigService
    activities: ActivityService
    agents: AgentService
    hosts: HostService
    teams: TeamService
    labels: LabelService
    queries: QueryService
    packs: PackService
    policies: PolicyService
    device: DeviceService
    specs: SpecService
    pack_specs: PackSpecService
    targets: TargetService
    live_queries: LiveQueryService
    bus: InvalidationBus
    health: HealthCheck
    runtime: ServerRuntime
    webhooks: WebhookService
    software: SoftwareService
    # None when no feed engine is wired in (the in-memory kit).
    vulnerabilities: VulnerabilityService | None
    schedules: ScheduleService
    carves: CarveService
    installers: InstallerService
    # Agent error reports (POST /device/{token}/debug/errors), read by GET /debug/errors.
    error_reports: ErrorReportStore
    debug: DebugService
    vulnerability_automations: VulnerabilityAutomationService
    # SAML single sign-on (fleet_core.services.sso).
    sso: SSOService
    # Every background job of a server process (fleet_core.services.jobs), run by the process.
    jobs: tuple[BackgroundJob, ...]
    # Where the services and the job runner report what the operator watches (GET /metrics).
    metrics: Metrics = NO_METRICS


def make_services(
    *,
    uow: UnitOfWorkFactory,
    hasher: PasswordHasher,
    tokens: TokenGenerator,
    clock: Clock,
    mailer: Mailer,
    rate_limiter: RateLimiter,
    health: HealthCheck,
    runtime: ServerRuntime,
    bus: InvalidationBus,
    logs: Mapping[str, LogDestination],
    schedule_lock: ScheduleLock,
    webhook_sender: WebhookSender = UNCONFIGURED_SENDER,
    webhook_schedule: WebhookSchedule = WebhookSchedule(),
    live_store: LiveQueryStore | None = None,
    vulnerability_feed: VulnerabilityFeed | None = None,
    error_reports: ErrorReportStore | None = None,
    installers: InstallerStore | None = None,
    database_diagnostics: DatabaseDiagnostics | None = None,
    process_diagnostics: ProcessDiagnostics | None = None,
    ticket_sender: TicketSender | None = None,
    integration_checker: IntegrationChecker | None = None,
    carve_store: CarveStore | None = None,
    saml: SAMLServiceProvider | None = None,
    sso_store: SSOStateStore | None = None,
    metrics: Metrics = NO_METRICS,
) -> Services:
    """The one place services are assembled (called by the adapters' bootstrap and in-memory kit)."""
    error_reports = error_reports or NoErrorReportStore()
    activities = ActivityService(uow=uow, clock=clock)
    auth = AuthService(
        uow=uow, hasher=hasher, tokens=tokens, clock=clock, mailer=mailer,
        rate_limiter=rate_limiter, runtime=runtime,
    )
    hosts = HostService(uow=uow, clock=clock, tokens=tokens, bus=bus, metrics=metrics)
    live_queries = LiveQueryService(uow=uow, clock=clock, store=live_store or NoLiveQueryStore(), tokens=tokens,
                                    rest_period=runtime.live_query_rest_period,
                                    operator_metrics=metrics)
    tickets = ticket_sender or UNCONFIGURED_TICKETS
    webhooks = WebhookService(uow=uow, clock=clock, sender=webhook_sender, schedule=webhook_schedule, tickets=tickets)
    vulnerability_automations = VulnerabilityAutomationService(
        uow=uow, clock=clock, sender=webhook_sender, tickets=tickets, schedule=webhook_schedule,
        max_age=runtime.vulnerabilities.recent_vulnerability_max_age)
    carves = CarveService(uow=uow, clock=clock, store=carve_store or NoCarveStore(), limits=runtime.carves)
    agents = AgentService(uow=uow, tokens=tokens, clock=clock, bus=bus, logs=dict(logs),
                          packs=PackConfigService(uow=uow, clock=clock, bus=bus),
                          settings=runtime.agents, live=live_queries, rate_limiter=rate_limiter,
                          metrics=metrics)
    software = SoftwareService(uow=uow, clock=clock)
    sso = SSOService(uow=uow, clock=clock, tokens=tokens, runtime=runtime, saml_provider=saml, state_store=sso_store)
    vulnerabilities = None if vulnerability_feed is None else VulnerabilityService(
        uow=uow, clock=clock, feed=vulnerability_feed, settings=runtime.vulnerabilities)
    jobs = background_jobs(hosts=hosts, webhooks=webhooks, live_queries=live_queries, carves=carves, agents=agents,
                           software=software, vulnerabilities=vulnerabilities,
                           vulnerability_automations=vulnerability_automations, sso=sso)
    return Services(
        auth=auth,
        setup=SetupService(uow=uow, hasher=hasher, auth=auth, clock=clock),
        users=UserService(uow=uow, hasher=hasher, tokens=tokens, clock=clock),
        invites=InviteService(uow=uow, tokens=tokens, clock=clock, mailer=mailer, runtime=runtime),
        config=ConfigService(uow=uow, clock=clock, mailer=mailer, runtime=runtime, bus=bus, sso=sso,
                             checker=integration_checker or UNCONFIGURED_CHECKER),
        activities=activities,
        agents=agents,
        hosts=hosts,
        teams=TeamService(uow=uow, clock=clock, bus=bus),
        labels=LabelService(uow=uow, clock=clock, bus=bus),
        queries=QueryService(uow=uow, clock=clock, bus=bus),
        packs=PackService(uow=uow, clock=clock, bus=bus),
        policies=PolicyService(uow=uow, clock=clock, bus=bus, tokens=tokens),
        device=DeviceService(uow=uow, clock=clock, tokens=tokens, bus=bus, error_reports=error_reports,
                             token_ttl=runtime.device_token_ttl, rate_limiter=rate_limiter),
        specs=SpecService(uow=uow, clock=clock, bus=bus),
        pack_specs=PackSpecService(uow=uow, clock=clock, bus=bus),
        targets=TargetService(uow=uow, clock=clock, tokens=tokens),
        live_queries=live_queries,
        bus=bus,
        health=health,
        runtime=runtime,
        webhooks=webhooks,
        software=software,
        vulnerabilities=vulnerabilities,
        # Fleet's cron schedules that this server has jobs for, as the jobs table assigns them.
        schedules=ScheduleService(jobs=jobs_by_schedule(jobs), lock=schedule_lock),
        carves=carves,
        installers=InstallerService(store=installers or NoInstallerStore()),
        error_reports=error_reports,
        # Without a diagnostics adapter its reports answer 404, as for an unknown key.
        debug=DebugService(server_errors=SERVER_ERRORS, device_errors=error_reports,
                           database=database_diagnostics, process=process_diagnostics),
        vulnerability_automations=vulnerability_automations,
        sso=sso,
        jobs=jobs,
        metrics=metrics,
    )
