"""The console's organisation pages over the in-memory kit: teams, users and invites, settings
and the activity feed -- status codes, field errors, escaping, CSRF, and what each role may do
(an observer sees no edit controls and a crafted POST is refused by the core)."""

from __future__ import annotations

import re

import attrs
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_core.model.config import MASKED_PASSWORD, Integrations, JiraIntegration
from tests.http.support import ADMIN_EMAIL, PASSWORD, Cast, Fleet

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_redirects(client: AsyncTestClient[Litestar]) -> None:
    client.follow_redirects = False


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def sign_in(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> str:
    """Sign the test client in through the console; returns a CSRF token for its forms."""
    client.cookies.clear()
    page = await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page)})
    assert response.status_code == 303, response.text
    return csrf_of(await client.get("/account"))


async def post(client: AsyncTestClient[Litestar], path: str, token: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={**fields, "csrf_token": token})


# --- teams ---

async def test_an_admin_creates_a_team_edits_it_and_deletes_it(fleet: Fleet) -> None:
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    blank = await post(client, "/teams", token, name="  ")
    assert blank.status_code == 422 and 'id="field-name-error"' in blank.text
    created = await post(client, "/teams", token, name="<script>alert(1)</script>", description="Laptops")
    assert created.status_code == 303
    team_path = created.headers["location"]
    page = await client.get(team_path)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    renamed = await post(client, team_path, token, name="Laptops", description="All laptops")
    assert renamed.status_code == 303
    listing = await client.get("/teams")
    assert ">Laptops</a>" in listing.text and "All laptops" in listing.text
    rotated = await post(client, team_path + "/secrets/rotate", token)
    assert rotated.status_code == 303
    team_id = int(team_path.rsplit("/", 1)[1])
    secrets = (await client.get(f"/api/v1/fleet/teams/{team_id}/secrets", headers=fleet.as_admin)).json()["secrets"]
    assert len(secrets) == 1 and secrets[0]["secret"] in (await client.get(team_path)).text
    deleted = await post(client, team_path + "/delete", token)
    assert deleted.status_code == 303 and deleted.headers["location"] == "/teams"
    assert (await client.get(team_path)).status_code == 404


async def test_team_agent_options_in_yaml_show_their_errors_on_the_field(cast: Cast) -> None:
    client = cast.fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    path = f"/teams/{cast.team_one}/agent-options"
    broken = await post(client, path, token, agent_options="config: [unclosed")
    assert broken.status_code == 422
    assert 'id="field-agent_options-error"' in broken.text and "is not valid YAML" in broken.text
    # What was typed stays in the textarea.
    assert "config: [unclosed" in broken.text
    unknown = await post(client, path, token, agent_options="bogus_key: 1\n")
    assert unknown.status_code == 422 and "unknown key(s): bogus_key" in unknown.text
    saved = await post(client, path, token, agent_options="config:\n  options:\n    distributed_interval: 7\n")
    assert saved.status_code == 303
    team = (await client.get(f"/api/v1/fleet/teams/{cast.team_one}", headers=cast.fleet.as_admin)).json()["team"]
    assert team["agent_options"] == {"config": {"options": {"distributed_interval": 7}}}


async def test_members_are_added_with_a_role_changed_and_removed(cast: Cast) -> None:
    fleet = cast.fleet
    newcomer = await fleet.create_user(teams=[{"id": cast.team_two, "role": "observer"}], email="new@example.com",
                                       login=False)
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    team_path = f"/teams/{cast.team_one}"
    assert "new@example.com" in (await client.get(team_path)).text  # offered in the add form
    added = await post(client, team_path + "/members", token, user_id=str(newcomer.id), role="maintainer")
    assert added.status_code == 303

    async def roles() -> dict[int, str]:
        user = (await client.get(f"/api/v1/fleet/users/{newcomer.id}", headers=fleet.as_admin)).json()["user"]
        return {t["id"]: t["role"] for t in user["teams"]}

    assert await roles() == {cast.team_one: "maintainer", cast.team_two: "observer"}
    changed = await post(client, f"{team_path}/members/{newcomer.id}", token, role="admin")
    assert changed.status_code == 303 and (await roles())[cast.team_one] == "admin"
    bad_role = await post(client, f"{team_path}/members/{newcomer.id}", token, role="emperor")
    assert bad_role.status_code == 422 and "role must be one of" in bad_role.text
    removed = await post(client, f"{team_path}/members/{newcomer.id}/remove", token)
    assert removed.status_code == 303 and await roles() == {cast.team_two: "observer"}


async def test_a_team_observer_sees_no_edit_controls_and_a_crafted_post_is_refused(cast: Cast) -> None:
    client = cast.fleet.client
    token = await sign_in(client, cast["team_observer"].email)
    page = await client.get(f"/teams/{cast.team_one}")
    assert page.status_code == 200
    assert "Save team" not in page.text and "Add member" not in page.text and "Delete team" not in page.text
    assert "Rotate secret" not in page.text
    assert (await client.get(f"/teams/{cast.team_two}")).status_code == 403
    refused = await post(client, f"/teams/{cast.team_one}", token, name="Mine now")
    assert refused.status_code == 403 and "You do not have permission" in refused.text
    assert (await post(client, f"/teams/{cast.team_one}/delete", token)).status_code == 403
    assert (await post(client, "/teams", token, name="Another")).status_code == 403


async def test_a_team_form_without_the_csrf_token_is_refused(cast: Cast) -> None:
    client = cast.fleet.client
    await sign_in(client, ADMIN_EMAIL)
    response = await client.post(f"/teams/{cast.team_one}", data={"name": "No token"})
    assert response.status_code == 403 and "security token" in response.text
    team = (await client.get(f"/api/v1/fleet/teams/{cast.team_one}", headers=cast.fleet.as_admin)).json()["team"]
    assert team["name"] == "Team One"


# --- users and invites ---

async def test_an_admin_invites_a_colleague_and_revokes_the_invitation(cast: Cast) -> None:
    fleet = cast.fleet
    await fleet.enable_smtp()
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    bad = await post(client, "/users/invites", token, email="not-an-email", name="X", global_role="observer")
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    neither = await post(client, "/users/invites", token, email="pat@example.com", name="Pat")
    assert neither.status_code == 422 and "either global role or team role" in neither.text
    sent = await post(client, "/users/invites", token, email="pat@example.com", name="Pat <b>",
                      **{f"team_role_{cast.team_one}": "maintainer"})
    assert sent.status_code == 303
    mail = fleet.kit.mailer.sent[-1]
    assert mail.to == "pat@example.com" and "/login/invites/" in mail.text
    page = await client.get("/users")
    assert "pat@example.com" in page.text and "Pat &lt;b&gt;" in page.text and "Maintainer on Team One" in page.text
    invites = (await client.get("/api/v1/fleet/invites", headers=fleet.as_admin)).json()["invites"]
    revoked = await post(client, f"/users/invites/{invites[0]['id']}/delete", token)
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/fleet/invites", headers=fleet.as_admin)).json()["invites"] == []


async def test_an_admin_creates_a_user_changes_roles_requires_a_reset_and_deletes(cast: Cast) -> None:
    fleet = cast.fleet
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    weak = await post(client, "/users", token, name="Quinn", email="quinn@example.com", password="short",
                      global_role="observer")
    assert weak.status_code == 422 and 'id="user-password-error"' in weak.text
    assert 'value="short"' not in weak.text
    made = await post(client, "/users", token, name="Quinn", email="quinn@example.com", password=PASSWORD,
                      global_role="observer")
    assert made.status_code == 303
    users = (await client.get("/api/v1/fleet/users", headers=fleet.as_admin)).json()["users"]
    quinn = next(u for u in users if u["email"] == "quinn@example.com")
    assert quinn["global_role"] == "observer" and quinn["force_password_reset"] is True
    path = f"/users/{quinn['id']}"
    both = await post(client, path, token, global_role="admin", **{f"team_role_{cast.team_one}": "observer"})
    assert both.status_code == 422 and "Cannot specify both" in both.text
    to_team = await post(client, path, token, **{f"team_role_{cast.team_two}": "admin"})
    assert to_team.status_code == 303
    page = await client.get(path)
    assert "Admin on Team Two" in page.text
    assert (await post(client, path + "/require-password-reset", token)).status_code == 303
    assert (await post(client, path + "/delete", token)).status_code == 303
    assert (await client.get(path)).status_code == 404


async def test_an_observer_sees_users_without_edit_controls_and_cannot_invite(cast: Cast) -> None:
    await cast.fleet.enable_smtp()
    client = cast.fleet.client
    token = await sign_in(client, cast["observer"].email)
    page = await client.get("/users")
    assert page.status_code == 200 and ADMIN_EMAIL in page.text
    assert "Invite a colleague" not in page.text and "Create a user" not in page.text and "Edit" not in page.text
    refused = await post(client, "/users/invites", token, email="sneak@example.com", name="Sneak",
                         global_role="admin")
    assert refused.status_code == 403
    assert all(m.to != "sneak@example.com" for m in cast.fleet.kit.mailer.sent)
    assert (await cast.fleet.client.get("/api/v1/fleet/invites", headers=cast.fleet.as_admin)).json()["invites"] == []
    assert (await post(client, f"/users/{cast['maintainer'].id}/delete", token)).status_code == 403


# --- settings ---

async def test_an_admin_changes_the_org_name_and_sees_it_in_the_layout(fleet: Fleet) -> None:
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    page = await client.get("/settings")
    assert page.status_code == 200 and 'class="brand" href="/">Acme</a>' in page.text
    empty = await post(client, "/settings/org", token, org_name="", org_logo_url="")
    assert empty.status_code == 422 and 'id="field-org_name-error"' in empty.text
    saved = await post(client, "/settings/org", token, org_name="Globex <i>", org_logo_url="https://example.com/l.png")
    assert saved.status_code == 303 and saved.headers["location"] == "/settings#org"
    page = await client.get("/settings")
    assert 'class="brand" href="/">Globex &lt;i&gt;</a>' in page.text
    assert 'class="brand" href="/">Globex &lt;i&gt;</a>' in (await client.get("/teams")).text


async def test_global_agent_options_with_an_error_show_it_and_keep_the_text(fleet: Fleet) -> None:
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    response = await post(client, "/settings/agent-options", token, agent_options="config: 3\n")
    assert response.status_code == 422
    assert 'id="field-agent_options-error"' in response.text and "must be an object" in response.text
    assert "config: 3" in response.text
    listed = await post(client, "/settings/agent-options", token, agent_options="- a\n- b\n")
    assert listed.status_code == 422 and "must be a mapping" in listed.text


async def test_smtp_settings_and_the_test_email(fleet: Fleet) -> None:
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    off = await post(client, "/settings/smtp/test", token)
    assert off.status_code == 303
    assert "SMTP is not enabled" in (await client.get("/settings")).text
    missing = await post(client, "/settings/smtp", token, enable_smtp="on", server="", port="25",
                         authentication_type="authtype_none")
    assert missing.status_code == 422 and 'id="field-server-error"' in missing.text
    not_a_port = await post(client, "/settings/smtp", token, enable_smtp="on", server="smtp.example.com", port="x")
    assert not_a_port.status_code == 422 and "must be a number" in not_a_port.text
    saved = await post(client, "/settings/smtp", token, enable_smtp="on", server="smtp.example.com", port="1025",
                       sender_address="fleet@example.com", authentication_type="authtype_username_password",
                       authentication_method="authmethod_plain", user_name="mailer", password="s3cret-pass")
    assert saved.status_code == 303
    assert len(fleet.kit.mailer.sent) == 1  # the core's test mail on a change
    assert "s3cret-pass" not in (await client.get("/settings")).text
    again = await post(client, "/settings/smtp/test", token)
    assert again.status_code == 303
    assert [m.to for m in fleet.kit.mailer.sent] == [ADMIN_EMAIL, ADMIN_EMAIL]
    stored = await fleet.kit.services.config.current()
    assert stored.smtp_settings.password == "s3cret-pass"
    # Saving again with the password left empty keeps it.
    kept = await post(client, "/settings/smtp", token, enable_smtp="on", server="smtp.example.com", port="1025",
                      sender_address="fleet@example.com", authentication_type="authtype_username_password",
                      authentication_method="authmethod_plain", user_name="mailer", password="")
    assert kept.status_code == 303
    assert (await fleet.kit.services.config.current()).smtp_settings.password == "s3cret-pass"


async def test_global_enroll_secrets_are_added_and_removed(fleet: Fleet) -> None:
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    assert (await post(client, "/settings/secrets/add", token, secret="first-secret")).status_code == 303
    assert (await post(client, "/settings/secrets/add", token, secret="")).status_code == 303
    duplicate = await post(client, "/settings/secrets/add", token, secret="first-secret")
    assert duplicate.status_code == 422 and "more than once" in duplicate.text
    listed = await client.get("/api/v1/fleet/spec/enroll_secret", headers=fleet.as_admin)
    secrets = [s["secret"] for s in listed.json()["spec"]["secrets"]]
    assert len(secrets) == 2 and "first-secret" in secrets
    page = await client.get("/settings")
    assert all(s in page.text for s in secrets)
    assert (await post(client, "/settings/secrets/remove", token, secret="first-secret")).status_code == 303
    assert (await post(client, "/settings/secrets/remove", token, secret="never-was")).status_code == 404
    assert "first-secret" not in (await client.get("/settings")).text


async def test_host_expiry_webhooks_and_sso_are_saved_through_the_core(fleet: Fleet) -> None:
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    bad = await post(client, "/settings/host-expiry", token, host_expiry_enabled="on", host_expiry_window="0")
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    assert (await post(client, "/settings/host-expiry", token, host_expiry_enabled="on",
                       host_expiry_window="30")).status_code == 303
    hooks = await post(client, "/settings/webhooks", token, enable_host_status_webhook="on",
                       host_status_url="https://hooks.example.com/status", host_percentage="12.5", days_count="3",
                       policy_ids="", failing_policies_batch="0", vulnerabilities_batch="0", interval="12h0m0s")
    assert hooks.status_code == 303, hooks.text
    bad_ids = await post(client, "/settings/webhooks", token, policy_ids="one, two")
    assert bad_ids.status_code == 422 and "policy ids" in bad_ids.text
    config = await fleet.kit.services.config.current()
    assert config.host_expiry_settings.host_expiry_window == 30
    status_hook = config.webhook_settings.host_status_webhook
    assert status_hook.enable_host_status_webhook and status_hook.host_percentage == 12.5
    assert config.webhook_settings.interval == "12h0m0s"
    sso = await post(client, "/settings/sso", token, enable_sso="on", idp_name="Okta", entity_id="fleet")
    assert sso.status_code == 422  # the core wants metadata or a metadata URL
    assert "Okta" in sso.text


async def test_integration_tokens_are_masked_and_integrations_removed(fleet: Fleet) -> None:
    async with fleet.kit.store.unit_of_work() as uow:
        config = await uow.app_config.lock()
        await uow.app_config.save(attrs.evolve(config, integrations=Integrations(jira=[JiraIntegration(
            url="https://jira.example.com", username="bot", api_token="very-secret-token", project_key="OPS")])))
        await uow.commit()
    client = fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    page = await client.get("/settings")
    assert "https://jira.example.com" in page.text and "OPS" in page.text
    assert "very-secret-token" not in page.text and MASKED_PASSWORD in page.text
    # The in-memory kit cannot reach Zendesk: the core refuses the new one, and the page says why.
    refused = await post(client, "/settings/integrations", token, kind="zendesk", url="https://z.example.com",
                         email="bot@example.com", group_id="7", api_token="another-token")
    assert refused.status_code == 422 and 'id="integration-url-error"' in refused.text
    assert "another-token" not in refused.text
    removed = await post(client, "/settings/integrations/remove", token, kind="jira", index="0")
    assert removed.status_code == 303
    assert (await fleet.kit.services.config.current()).integrations.jira == []
    assert (await post(client, "/settings/integrations/remove", token, kind="jira", index="0")).status_code == 404


async def test_an_observer_cannot_see_settings_and_a_crafted_post_is_refused(cast: Cast) -> None:
    client = cast.fleet.client
    token = await sign_in(client, cast["observer"].email)
    home = await client.get("/")
    assert 'href="/settings"' not in home.text
    page = await client.get("/settings")
    assert page.status_code == 403 and "Save organisation" not in page.text
    crafted = await post(client, "/settings/org", token, org_name="Pwned")
    assert crafted.status_code == 403
    assert (await cast.fleet.kit.services.config.current()).org_info.org_name == "Acme"
    assert (await post(client, "/settings/smtp/test", token)).status_code == 403
    assert (await post(client, "/settings/secrets/add", token, secret="mine")).status_code == 403


# --- activity ---

async def test_the_activity_feed_lists_what_happened_with_paging(cast: Cast) -> None:
    client = cast.fleet.client
    token = await sign_in(client, ADMIN_EMAIL)
    for name in ("<b>Bold</b>", "Second", "Third"):
        assert (await post(client, "/teams", token, name=name)).status_code == 303
    page = await client.get("/activity?per_page=2")
    assert page.status_code == 200
    assert "created team" in page.text and "Ada Admin" in page.text
    assert 'rel="next"' in page.text and "Page 1" in page.text
    first = await client.get("/activity?per_page=1")
    assert "Third" in first.text and "&lt;b&gt;Bold&lt;/b&gt;" not in first.text
    escaped = await client.get("/activity?per_page=50")
    assert "&lt;b&gt;Bold&lt;/b&gt;" in escaped.text and "<b>Bold</b>" not in escaped.text
    second = await client.get("/activity?per_page=1&page=1")
    assert "Second" in second.text and 'rel="prev"' in second.text


async def test_the_activity_feed_needs_a_session(fleet: Fleet) -> None:
    fleet.client.cookies.clear()
    response = await fleet.client.get("/activity?page=2")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/activity")


async def test_a_team_admin_invites_only_to_their_own_team(cast: Cast) -> None:
    fleet = cast.fleet
    await fleet.enable_smtp()
    client = fleet.client
    token = await sign_in(client, cast["team_admin"].email)
    page = await client.get("/users")
    assert page.status_code == 200
    # Roles on their own team only; no global role to grant.
    assert f'name="team_role_{cast.team_one}"' in page.text
    assert f'name="team_role_{cast.team_two}"' not in page.text and 'name="global_role"' not in page.text
    crafted = await post(client, "/users/invites", token, email="other@example.com", name="Other",
                         global_role="admin")
    assert crafted.status_code == 403
    sent = await post(client, "/users/invites", token, email="mate@example.com", name="Mate",
                      **{f"team_role_{cast.team_one}": "observer"})
    assert sent.status_code == 303
    invites = (await client.get("/api/v1/fleet/invites", headers=fleet.as_admin)).json()["invites"]
    assert [(i["email"], [t["id"] for t in i["teams"]]) for i in invites] == [("mate@example.com", [cast.team_one])]
