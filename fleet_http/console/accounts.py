"""First run and accounts: setup, login (password or SSO), logout, forgotten and forced password
resets, accepting an invite, and My account (password change, API token)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, InvalidArgument, NotConfigured, NotFound, RateLimited
from fleet_core.model.users import Invite
from fleet_core.services.auth import AuthService
from fleet_core.services.invites import InviteService
from fleet_core.services.setup import SetupInput, SetupService
from fleet_core.services.sso import SSOService
from fleet_core.services.users import UserService
from fleet_http.console.pages import field_errors, form_data, redirect, render
from fleet_http.console.session import (
    SESSION_COOKIE,
    expired_session_cookie,
    provide_console_viewer_pending_reset,
    safe_next,
    session_cookie,
)
from fleet_http.deps import client_address

PENDING_RESET_OK: Final = {"viewer": Provide(provide_console_viewer_pending_reset)}
SSO_COMPLETE_PATH: Final = "/login/sso/complete"
MISMATCH: Final = "passwords do not match"


async def _sso_button(sso: SSOService) -> str | None:
    """The IdP's name when SSO is on (the login page offers "Sign in with <IdP>"), else None."""
    settings = await sso.settings()
    return (settings.idp_name or "SSO") if settings.enable_sso else None


class SetupPageController(Controller):
    path = "/setup"

    @get("")
    async def setup_page(self, request: Request[Any, Any, Any], setup: NamedDependency[SetupService]) -> Response[Any]:
        if not await setup.required():
            return redirect(request, "/login")
        server_url = f"{request.url.scheme}://{request.url.netloc}"
        return render(request, "setup.html", {"form": {"server_url": server_url}, "errors": {}})

    @post("")
    async def do_setup(self, request: Request[Any, Any, Any], setup: NamedDependency[SetupService]) -> Response[Any]:
        form = await form_data(request)
        if not await setup.required():
            return redirect(request, "/login", flash="Setup is already complete; sign in.", level="info")
        try:
            result = await setup.setup(SetupInput(
                name=form.get("name", ""), email=form.get("email", ""), password=form.get("password", ""),
                password_confirmation=form.get("password_confirmation", ""), org_name=form.get("org_name", ""),
                server_url=form.get("server_url", ""), org_logo_url="",
            ))
        except InvalidArgument as exc:
            return render(request, "setup.html",
                          {"form": _without_passwords(form), "errors": field_errors(exc.problems)}, status_code=422)
        return redirect(request, "/", flash="Welcome to Fleet.", cookies=[session_cookie(request, result.token)])


def _without_passwords(form: dict[str, str]) -> dict[str, str]:
    # A password is never written back into the page.
    return {k: v for k, v in form.items() if "password" not in k}


class LoginController(Controller):
    path = "/login"

    @get("")
    async def login_page(self, request: Request[Any, Any, Any], optional_viewer: NamedDependency[Viewer | None],
                         setup: NamedDependency[SetupService], sso: NamedDependency[SSOService]) -> Response[Any]:
        if optional_viewer is not None:
            return redirect(request, safe_next(request.query_params.get("next")))
        if await setup.required():
            return redirect(request, "/setup")
        return render(request, "login.html", {"form": {}, "errors": {}, "sso_name": await _sso_button(sso),
                                              "next": safe_next(request.query_params.get("next"))})

    @post("")
    async def login(self, request: Request[Any, Any, Any], auth: NamedDependency[AuthService],
                    sso: NamedDependency[SSOService]) -> Response[Any]:
        form = await form_data(request)
        next_path = safe_next(form.get("next"))
        context: dict[str, Any] = {"form": {"email": form.get("email", "")}, "errors": {}, "next": next_path,
                                   "sso_name": await _sso_button(sso)}
        try:
            _, token = await auth.login(form.get("email", ""), form.get("password", ""),
                                        remote_addr=client_address(request))
        except InvalidArgument as exc:
            context["errors"] = field_errors(exc.problems)
            return render(request, "login.html", context, status_code=422)
        except AuthFailed:
            context["error"] = "The email or password is not right."
            return render(request, "login.html", context, status_code=401)
        except RateLimited:
            context["error"] = "Too many failed attempts. Wait a few minutes and try again."
            return render(request, "login.html", context, status_code=429)
        return redirect(request, next_path, cookies=[session_cookie(request, token)])

    @post("/logout", dependencies=PENDING_RESET_OK)
    async def logout(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                     auth: NamedDependency[AuthService]) -> Response[Any]:
        await auth.logout(viewer)
        return redirect(request, "/login", flash="You are signed out.", level="info",
                        cookies=[expired_session_cookie(request)])

    # --- forgot / reset ---

    @get("/forgot")
    async def forgot_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return render(request, "forgot_password.html", {"form": {}, "errors": {}})

    @post("/forgot")
    async def forgot(self, request: Request[Any, Any, Any], auth: NamedDependency[AuthService]) -> Response[Any]:
        form = await form_data(request)
        context: dict[str, Any] = {"form": {"email": form.get("email", "")}, "errors": {}}
        try:
            await auth.forgot_password(form.get("email", ""), remote_addr=client_address(request))
        except InvalidArgument as exc:
            context["errors"] = field_errors(exc.problems)
            return render(request, "forgot_password.html", context, status_code=422)
        except NotConfigured:
            context["error"] = "This server cannot send email yet; ask an admin to reset your password."
            return render(request, "forgot_password.html", context, status_code=400)
        except RateLimited:
            context["error"] = "Too many requests. Wait a few minutes and try again."
            return render(request, "forgot_password.html", context, status_code=429)
        # The same answer whether or not the account exists: no way to probe for accounts.
        return render(request, "forgot_password.html", {**context, "sent": True})

    @get("/reset")
    async def reset_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        token = request.query_params.get("token", "")
        return render(request, "reset_password.html", {"token": token, "errors": {}})

    @post("/reset")
    async def reset(self, request: Request[Any, Any, Any], auth: NamedDependency[AuthService]) -> Response[Any]:
        form = await form_data(request)
        token = form.get("token", "")
        try:
            await auth.reset_password(token, form.get("new_password", ""), form.get("new_password_confirmation", ""))
        except InvalidArgument as exc:
            return render(request, "reset_password.html", {"token": token, "errors": field_errors(exc.problems)},
                          status_code=422)
        except NotFound:
            return render(request, "reset_password.html",
                          {"token": token, "errors": {}, "error": "This reset link is invalid, used or expired. "
                           "Ask for a new one."}, status_code=404)
        return redirect(request, "/login", flash="Your password is changed. Sign in with it.")

    # --- forced reset (an admin required it) ---

    @get("/password-reset", dependencies=PENDING_RESET_OK)
    async def forced_reset_page(self, request: Request[Any, Any, Any],
                                viewer: NamedDependency[Viewer]) -> Response[Any]:
        if not viewer.user.force_password_reset:
            return redirect(request, "/")
        # No navigation: every area leads back here until the password is changed.
        return render(request, "forced_reset.html", {"errors": {}, "nav": []}, viewer=viewer)

    @post("/password-reset", dependencies=PENDING_RESET_OK)
    async def forced_reset(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                           auth: NamedDependency[AuthService]) -> Response[Any]:
        form = await form_data(request)
        errors: dict[str, str] = {}
        if form.get("new_password", "") != form.get("new_password_confirmation", ""):
            errors["new_password_confirmation"] = MISMATCH
        else:
            try:
                await auth.perform_required_password_reset(viewer, form.get("new_password", ""))
            except InvalidArgument as exc:
                errors = field_errors(exc.problems)
        if errors:
            return render(request, "forced_reset.html", {"errors": errors, "nav": []}, viewer=viewer,
                          status_code=422)
        return redirect(request, "/", flash="Your new password is set.")

    # --- invites ---

    @get("/invites/{token:str}")
    async def invite_page(self, request: Request[Any, Any, Any], token: FromPath[str],
                          invites: NamedDependency[InviteService], sso: NamedDependency[SSOService]) -> Response[Any]:
        invite = await _invite_or_none(invites, token)
        if invite is None:
            return render(request, "invite.html", {"invite": None}, status_code=404)
        return render(request, "invite.html", {"invite": invite, "token": token, "errors": {},
                                               "form": {"name": invite.name}, "sso_name": await _sso_button(sso)})

    @post("/invites/{token:str}")
    async def accept_invite(self, request: Request[Any, Any, Any], token: FromPath[str],
                            invites: NamedDependency[InviteService], users: NamedDependency[UserService],
                            auth: NamedDependency[AuthService], sso: NamedDependency[SSOService]) -> Response[Any]:
        invite = await _invite_or_none(invites, token)
        if invite is None:
            return render(request, "invite.html", {"invite": None}, status_code=404)
        form = await form_data(request)
        password = None if invite.sso_enabled else form.get("password", "")
        confirmation = None if invite.sso_enabled else form.get("password_confirmation", "")
        try:
            await users.create_from_invite(invite_token=token, name=form.get("name", ""), email=invite.email,
                                           password=password, password_confirmation=confirmation)
        except InvalidArgument as exc:
            return render(request, "invite.html", {"invite": invite, "token": token, "form": _without_passwords(form),
                                                   "errors": field_errors(exc.problems),
                                                   "sso_name": await _sso_button(sso)}, status_code=422)
        if invite.sso_enabled or password is None:
            # Continue with SSO: straight into the IdP login (or back to /login if SSO is off).
            return redirect(request, "/login/sso")
        _, session = await auth.login(invite.email, password, remote_addr=client_address(request))
        return redirect(request, "/", flash="Welcome to Fleet.", cookies=[session_cookie(request, session)])

    # --- single sign-on: the existing SAML flow, ending with the token in the session cookie ---

    @get("/sso")
    async def sso_start(self, request: Request[Any, Any, Any], sso: NamedDependency[SSOService]) -> Response[Any]:
        try:
            url = await sso.initiate(SSO_COMPLETE_PATH)
        except NotConfigured:
            return redirect(request, "/login", flash="Single sign-on is not configured.", level="error")
        return Response(content=b"", status_code=303, headers={"Location": url, "Cache-Control": "no-store"})

    @get("/sso/complete")
    async def sso_complete_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        # The SSO callback page left the session token in localStorage (where Fleet's UI reads it);
        # sso.js posts it here with this page's CSRF token.
        return render(request, "sso_complete.html", {})

    @post("/sso/complete")
    async def sso_complete(self, request: Request[Any, Any, Any], auth: NamedDependency[AuthService]) -> Response[Any]:
        form = await form_data(request)
        token = form.get("token", "")
        try:
            await auth.authenticate(token, allow_pending_reset=True)
        except AuthFailed:
            return redirect(request, "/login", flash="Single sign-on did not complete; try again.", level="error")
        return redirect(request, "/", cookies=[session_cookie(request, token)])


async def _invite_or_none(invites: InviteService, token: str) -> Invite | None:
    try:
        return await invites.verify(token)
    except NotFound:
        return None


class AccountController(Controller):
    path = "/account"

    @get("")
    async def account_page(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Response[Any]:
        return render(request, "account.html", {"errors": {}}, viewer=viewer)

    @post("/password")
    async def change_password(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                              auth: NamedDependency[AuthService]) -> Response[Any]:
        form = await form_data(request)
        errors: dict[str, str] = {}
        if form.get("new_password", "") != form.get("new_password_confirmation", ""):
            errors["new_password_confirmation"] = MISMATCH
        else:
            try:
                await auth.change_password(viewer, form.get("old_password", ""), form.get("new_password", ""))
            except InvalidArgument as exc:
                errors = field_errors(exc.problems)
        if errors:
            return render(request, "account.html", {"errors": errors}, viewer=viewer, status_code=422)
        return redirect(request, "/account", flash="Your password is changed; other sessions are signed out.")

    @post("/api-token")
    async def api_token(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Response[Any]:
        # The session token the browser holds is the API token (as in Fleet's "Get API token"); it is
        # shown only in answer to a POST, so it never sits in a cached or bookmarked GET page.
        return render(request, "account.html", {"errors": {}, "api_token": request.cookies.get(SESSION_COOKIE, "")},
                      viewer=viewer)
