"""App configuration, enroll secrets, version, certificate, activities, health."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, SkipValidation

from fleet_core import version
from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, InvalidArgument
from fleet_core.model.config import AppConfig
from fleet_core.model.runtime import ServerRuntime
from fleet_core.ports import HealthCheck
from fleet_core.rules.ordering import ACTIVITY_ORDER_KEYS
from fleet_core.services.activities import ActivityService
from fleet_core.services.config import ConfigService
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import FREE_LICENSE, EmptyResponse
from fleet_http.schemas.config import (
    ApplyEnrollSecretSpecRequest,
    CertificateResponse,
    EnrollSecretSpecResponse,
    ListActivitiesResponse,
    SecretsSpecOut,
    TeamSecretsRequest,
    TeamSecretsResponse,
    VersionResponse,
    to_activity,
    to_secret,
)

NANOSECONDS = 1_000_000_000


def render_config(config: AppConfig, runtime: ServerRuntime) -> dict[str, Any]:
    """GET /config: the stored settings plus what the server reports about itself."""
    body: dict[str, Any] = msgspec.to_builtins(config)
    body["license"] = msgspec.to_builtins(FREE_LICENSE)
    body["logging"] = {
        "debug": runtime.logging_debug,
        "json": runtime.logging_json,
        "result": runtime.result_logging,
        "status": runtime.status_logging,
    }
    # Fleet reports durations as Go nanoseconds.
    body["update_interval"] = {
        "osquery_detail": int(runtime.agents.detail_update_interval.total_seconds()) * NANOSECONDS,
        "osquery_policy": int(runtime.agents.policy_update_interval.total_seconds()) * NANOSECONDS,
    }
    vulns = runtime.vulnerabilities
    body["vulnerabilities"] = {
        "cpe_database_url": vulns.cpe_database_url, "current_instance_checks": vulns.current_instance_checks,
        "cve_feed_prefix_url": vulns.cve_feed_prefix_url, "databases_path": vulns.databases_path,
        "disable_data_sync": vulns.disable_data_sync,
        "periodicity": int(vulns.periodicity.total_seconds()) * NANOSECONDS,
        "recent_vulnerability_max_age": int(vulns.recent_vulnerability_max_age.total_seconds()) * NANOSECONDS,
    }
    return body


class ConfigController(Controller):
    tags = ["Fleet configuration"]
    guards = [strict_json_body]

    @get("/config")
    async def get_config(self, viewer: NamedDependency[Viewer], config: NamedDependency[ConfigService],
                         runtime: NamedDependency[ServerRuntime]) -> dict[str, Any]:
        return render_config(await config.get(viewer), runtime)

    @patch("/config")
    async def modify_config(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                            config: NamedDependency[ConfigService],
                            runtime: NamedDependency[ServerRuntime]) -> dict[str, Any]:
        # The patch is merged field by field in the core, so it is read as a raw JSON object.
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise BadRequest("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return render_config(await config.modify(viewer, body), runtime)

    @get("/config/certificate")
    async def certificate(self, viewer: NamedDependency[Viewer],
                          config: NamedDependency[ConfigService]) -> CertificateResponse:
        chain = await config.certificate_chain(viewer)
        # Fleet's field is a Go []byte, which JSON carries as base64 of the PEM text.
        return CertificateResponse(certificate_chain=base64.b64encode(chain.encode()).decode())

    @get("/version")
    async def get_version(self, viewer: NamedDependency[Viewer]) -> VersionResponse:
        return VersionResponse(version=version.VERSION, branch=version.BRANCH, revision=version.REVISION,
                               go_version="", build_date=version.BUILD_DATE, build_user=version.BUILD_USER)

    @get("/spec/enroll_secret")
    async def get_enroll_secrets(self, viewer: NamedDependency[Viewer],
                                 config: NamedDependency[ConfigService]) -> EnrollSecretSpecResponse:
        secrets = await config.enroll_secrets(viewer)
        return EnrollSecretSpecResponse(spec=SecretsSpecOut(secrets=[to_secret(s) for s in secrets]))

    @post("/spec/enroll_secret", status_code=200)
    async def apply_enroll_secrets(self, data: JSONBody[ApplyEnrollSecretSpecRequest], viewer: NamedDependency[Viewer],
                                   config: NamedDependency[ConfigService],
                                   dry_run: FromQuery[bool] = False) -> EmptyResponse:
        # A missing required field is a validation failure (422), like every other one.
        if data.spec is None:
            raise InvalidArgument(("spec", "is required"))
        # fleetctl sends dry_run in the body; the other spec endpoints take it as a query parameter,
        # so either asks for a dry run here rather than one silently writing.
        await config.replace_enroll_secrets(viewer, [s.secret for s in data.spec.secrets],
                                                     dry_run=data.dry_run or dry_run)
        return EmptyResponse()

    @get("/teams/{team_id:int}/secrets")
    async def get_team_secrets(self, team_id: FromPath[int], viewer: NamedDependency[Viewer],
                               config: NamedDependency[ConfigService]) -> TeamSecretsResponse:
        secrets = await config.enroll_secrets(viewer, team_id)
        return TeamSecretsResponse(secrets=[to_secret(s) for s in secrets])

    @patch("/teams/{team_id:int}/secrets")
    async def modify_team_secrets(self, team_id: FromPath[int], data: JSONBody[TeamSecretsRequest],
                                  viewer: NamedDependency[Viewer],
                                  config: NamedDependency[ConfigService]) -> TeamSecretsResponse:
        if data.secrets is None:
            raise InvalidArgument(("secrets", "is required"))
        stored = await config.replace_enroll_secrets(viewer, [s.secret for s in data.secrets], team_id)
        # Fleet answers an emptied list with null.
        return TeamSecretsResponse(secrets=[to_secret(s) for s in stored] or None)

    @get("/activities")
    async def list_activities(
        self, viewer: NamedDependency[Viewer], activities: NamedDependency[ActivityService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
    ) -> ListActivitiesResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=None, allowed_keys=ACTIVITY_ORDER_KEYS)
        found = await activities.list(viewer, options)
        return ListActivitiesResponse(activities=[to_activity(a) for a in found])


@get("/healthz", tags=["Health"])
async def healthz(health: NamedDependency[SkipValidation[HealthCheck]]) -> Response[dict[str, bool]]:
    # HealthCheck is a port, and ports are Protocols Litestar cannot check with isinstance.
    checks = await health.check()
    return Response(checks, status_code=200 if all(checks.values()) else 503)
