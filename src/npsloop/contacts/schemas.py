"""API shapes for contacts, attributes, events, imports and segments.

Values are checked by the service (against the organisation's attribute definitions), so
these models only fix the JSON structure; `extra="forbid"` turns a misspelt field into a 422
that names it instead of a silent drop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = str | None


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(None, max_length=200)
    email: Text = Field(None, max_length=320)
    phone: Text = Field(None, max_length=40, description="normalised to E.164 (+8613800138000)")
    language: Text = Field(None, max_length=16, description="preferred language: zh-CN or en")
    lifecycle_stage: Text = Field(
        None, description="acquisition, retention, conversion or referral")
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="typed values (string, number, date 'YYYY-MM-DD', boolean) merged into the "
                    "contact's; null removes one; a new key is defined with its value's type")
    tags: list[str] | None = Field(None, description="replaces the contact's tags")
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None


class ContactUpsert(ContactFields):
    external_id: str = Field(min_length=1, max_length=200,
                             description="your system's id for this customer")


class ContactBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contacts: list[ContactUpsert] = Field(min_length=1, max_length=1000)


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    language: str | None
    lifecycle_stage: str | None
    attributes: dict[str, Any]
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class ContactList(BaseModel):
    items: list[ContactOut]
    total: int


class BatchItem(BaseModel):
    external_id: str
    id: str
    created: bool


class BatchResult(BaseModel):
    created: int
    updated: int
    items: list[BatchItem]


class AttributeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    key: str
    type: str
    label: str
    show_in_list: bool


class AttributeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=64)
    type: Literal["string", "number", "date", "boolean"]
    label: str = Field("", max_length=200)
    show_in_list: bool = False


class AttributeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str | None = Field(None, max_length=200)
    show_in_list: bool | None = None
    type: Literal["string", "number", "date", "boolean"] | None = None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_external_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=100, examples=["order_paid"])
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = Field(None, description="when it happened; now if unset")
    event_id: str | None = Field(
        None, min_length=1, max_length=128,
        description="your id for the event: sending it again stores nothing twice")


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=1000)
    unknown_contact: Literal["create", "reject"] = "create"


class EventSingle(EventIn):
    unknown_contact: Literal["create", "reject"] = "create"


class EventResultOut(BaseModel):
    accepted: int
    duplicates: int
    contacts_created: int
    event_ids: list[str]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    contact_id: str
    name: str
    properties: dict[str, Any]
    occurred_at: datetime
    event_key: str | None
    source: str


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    rules: dict[str, Any] = Field(
        default_factory=lambda: {"match": "all", "conditions": []},
        description='{"match": "all"|"any", "conditions": [...]}: see the segment docs')


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    rules: dict[str, Any] | None = None


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    description: str
    rules: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: dict[str, Any]
    sample_size: int = Field(10, ge=0, le=100)


class PreviewOut(BaseModel):
    count: int
    sample: list[ContactOut]


class ImportJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    filename: str
    file_format: str
    encoding: str
    mode: str
    dry_run: bool
    status: str
    mapping: dict[str, str]
    total_rows: int
    valid_rows: int
    error_rows: int
    created_count: int
    updated_count: int
    actor: str
    created_at: datetime
    finished_at: datetime | None


class ImportErrorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    row_number: int
    field: str
    reason: str
    code: str = Field(description="the reason as a code (for translations)")
    params: dict[str, Any]
    value: str


class ImportColumnOut(BaseModel):
    header: str
    target: str
    type: str
    new: bool


class ImportReportOut(BaseModel):
    job: ImportJobOut
    columns: list[ImportColumnOut]
    errors: list[ImportErrorOut]
    errors_total: int
    errors_url: str
    sample: list[dict[str, Any]]
