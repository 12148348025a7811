"""Labels: the dynamic and manual labels with their host counts; add a dynamic label (SQL and a
platform) or a manual one (chosen hosts); edit and delete (built-in labels are read-only); the
hosts in a label."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Action, Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HostFilter
from fleet_core.rules.paging import ListOptions
from fleet_core.services.hosts import HostService
from fleet_core.services.labels import LabelChanges, LabelService, LabelView
from fleet_http.console.pages import field_errors, form_data, form_lists, page_info, paging, redirect, render
from fleet_http.console.scopes import host_choices, ids_of, may

PLATFORM_CHOICES: Final = [("", "All platforms"), ("darwin", "macOS"), ("windows", "Windows"),
                           ("ubuntu", "Ubuntu"), ("centos", "CentOS")]
MEMBERS_PER_PAGE: Final = 50


def _form_of(view: LabelView) -> dict[str, Any]:
    label = view.label
    return {"name": label.name, "description": label.description, "query": label.query,
            "platform": label.platform, "membership": label.label_membership_type,
            "host_ids": list(view.host_ids or ())}


class LabelPagesController(Controller):
    path = "/labels"

    @get("")
    async def label_list(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                         labels: NamedDependency[LabelService]) -> Response[Any]:
        options = paging(request)
        found = await labels.list(viewer, options)
        return render(request, "labels/list.html", {
            "labels": found, "page": page_info(request, options, len(found)),
            "can_write": may(viewer, Action.WRITE_LABELS, None),
        }, viewer=viewer)

    @get("/new")
    async def new_label(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                        hosts: NamedDependency[HostService]) -> Response[Any]:
        membership = "manual" if request.query_params.get("membership") == "manual" else "dynamic"
        return render(request, "labels/form.html", {
            "label": None, "form": {"membership": membership, "host_ids": []}, "errors": {},
            "platforms": PLATFORM_CHOICES, "hosts": await host_choices(viewer, hosts) if membership == "manual" else [],
        }, viewer=viewer)

    @post("")
    async def create_label(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                           labels: NamedDependency[LabelService], hosts: NamedDependency[HostService]) -> Response[Any]:
        form = await form_data(request)
        manual = form.get("membership") == "manual"
        host_ids = ids_of(await form_lists(request, "host_ids"))
        try:
            view = await labels.create(viewer, name=form.get("name", ""), description=form.get("description", ""),
                                       query=None if manual else form.get("query", ""),
                                       platform=form.get("platform", ""), host_ids=host_ids if manual else None)
        except InvalidArgument as exc:
            return render(request, "labels/form.html", {
                "label": None, "form": {**form, "membership": "manual" if manual else "dynamic", "host_ids": host_ids},
                "errors": field_errors(exc.problems), "platforms": PLATFORM_CHOICES,
                "hosts": await host_choices(viewer, hosts) if manual else [],
            }, viewer=viewer, status_code=422)
        return redirect(request, f"/labels/{view.label.id}", flash=f"Label {view.label.name} added.")

    @get("/{label_id:int}")
    async def label_detail(self, request: Request[Any, Any, Any], label_id: FromPath[int],
                           viewer: NamedDependency[Viewer], labels: NamedDependency[LabelService],
                           hosts: NamedDependency[HostService]) -> Response[Any]:
        view = await labels.get(viewer, label_id)
        return await self._detail(request, viewer, view, hosts, _form_of(view), {}, 200)

    async def _detail(self, request: Request[Any, Any, Any], viewer: Viewer, view: LabelView, hosts: HostService,
                      form: dict[str, Any], errors: dict[str, str], status: int) -> Response[Any]:
        options = paging(request, default_per_page=MEMBERS_PER_PAGE)
        members = await hosts.list_page(viewer, HostFilter(label_id=view.label.id),
                                        ListOptions(page=options.page, per_page=options.per_page,
                                                    order_key="display_name"), failing_policies=False)
        editable = view.label.label_type != "builtin" and may(viewer, Action.WRITE_LABELS, None)
        manual = view.label.label_membership_type == "manual"
        return render(request, "labels/detail.html", {
            "view": view, "label": view.label, "members": [row.host for row in members.hosts],
            "page": page_info(request, options, len(members.hosts), view.host_count),
            "can_write": editable, "form": form, "errors": errors, "platforms": PLATFORM_CHOICES,
            "hosts": await host_choices(viewer, hosts) if editable and manual else [],
        }, viewer=viewer, status_code=status)

    @post("/{label_id:int}")
    async def modify_label(self, request: Request[Any, Any, Any], label_id: FromPath[int],
                           viewer: NamedDependency[Viewer], labels: NamedDependency[LabelService],
                           hosts: NamedDependency[HostService]) -> Response[Any]:
        form = await form_data(request)
        current = await labels.get(viewer, label_id)
        manual = current.label.label_membership_type == "manual"
        host_ids = ids_of(await form_lists(request, "host_ids"))
        changes = LabelChanges(name=form.get("name", ""), description=form.get("description", ""),
                               **({"host_ids": host_ids} if manual else
                                  {"query": form.get("query", ""), "platform": form.get("platform", "")}))
        try:
            view = await labels.modify(viewer, label_id, changes)
        except InvalidArgument as exc:
            return await self._detail(request, viewer, current, hosts,
                                      {**form, "membership": current.label.label_membership_type, "host_ids": host_ids},
                                      field_errors(exc.problems), 422)
        return redirect(request, f"/labels/{view.label.id}", flash="Label saved.")

    @post("/{label_id:int}/delete")
    async def delete_label(self, request: Request[Any, Any, Any], label_id: FromPath[int],
                           viewer: NamedDependency[Viewer], labels: NamedDependency[LabelService]) -> Response[Any]:
        await labels.delete(viewer, label_id)
        return redirect(request, "/labels", flash="Label deleted.")
