"""Request and response bodies of the labels API (Fleet's labelResponse, listLabelsResponse, ...)."""

from __future__ import annotations

import msgspec

from fleet_core.model.hosts import Label
from fleet_core.services.labels import LabelView
from fleet_http.schemas.common import UNSET, UnsetType
from fleet_http.schemas.hosts import LabelBody, to_label


class LabelDetailBody(LabelBody, kw_only=True):
    """A label as the labels API shows it: the label fields hosts show, plus its members."""

    host_count: int
    display_text: str
    # Fleet sends the host count under both names.
    count: int
    host_ids: list[int] | None


class LabelResponse(msgspec.Struct, kw_only=True):
    label: LabelDetailBody


class ListLabelsResponse(msgspec.Struct, kw_only=True):
    labels: list[LabelDetailBody]


class LabelSummaryBody(msgspec.Struct, kw_only=True):
    id: int
    name: str
    description: str
    label_type: str


class LabelsSummaryResponse(msgspec.Struct, kw_only=True):
    labels: list[LabelSummaryBody]


class CreateLabelRequest(msgspec.Struct, kw_only=True):
    name: str | None = None
    description: str = ""
    query: str | None = None
    platform: str = ""
    # Given, the label is manual: these hosts are its members and agents never run it.
    host_ids: list[int] | None = None


class ModifyLabelRequest(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    query: str | UnsetType = UNSET
    platform: str | UnsetType = UNSET
    host_ids: list[int] | UnsetType = UNSET


def to_label_detail(view: LabelView) -> LabelDetailBody:
    return LabelDetailBody(
        **msgspec.structs.asdict(to_label(view.label)), host_count=view.host_count, display_text=view.label.name,
        count=view.host_count, host_ids=None if view.host_ids is None else list(view.host_ids),
    )


def to_label_summary(label: Label) -> LabelSummaryBody:
    return LabelSummaryBody(id=label.id, name=label.name, description=label.description,
                            label_type=label.label_type)
