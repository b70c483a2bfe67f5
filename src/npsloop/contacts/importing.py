"""CSV/XLSX contact import: map columns, check every row, then apply all or the good ones.

Two passes over the file, both streamed: the first checks every row and records every
problem (row number as the spreadsheet shows it, column, reason); the second, unless this
is a dry run or all-or-nothing found a bad row, upserts the valid rows 1,000 at a time in
one transaction, so a failure applies nothing. Memory stays flat: rows are never all held.
Empty cells change nothing; tags in a cell are added (split on , ; | 、).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from npsloop.contacts import values
from npsloop.contacts.attributes import TYPES, AttributeRegistry
from npsloop.contacts.import_source import RowSource, SourceError, open_source
from npsloop.contacts.models import ContactImport, ContactImportError, ImportStatus
from npsloop.contacts.service import (
    ContactChange,
    ContactError,
    apply_changes,
    check_change,
    contacts_by_external_id,
)
from npsloop.core.db import new_id, utcnow

BATCH = 1000
ERROR_ORDER = (ContactImportError.row_number, ContactImportError.column_index,
               ContactImportError.id)
SNIFF_ROWS = 1000
SAMPLE_ROWS = 10
MODES = ("all_or_nothing", "valid_only")
FIELD_TARGETS = ("external_id", "name", "email", "phone", "language", "lifecycle_stage", "tags")
# Header names recognised without a mapping (compared lower-case, spaces as underscores).
ALIASES = {
    "external_id": {"external_id", "externalid", "id", "customer_id", "user_id", "contact_id",
                    "客户id", "客户编号", "用户id", "会员id", "会员编号", "外部id"},
    "name": {"name", "full_name", "姓名", "名称", "客户名称", "联系人"},
    "email": {"email", "e-mail", "email_address", "邮箱", "电子邮件", "邮件"},
    "phone": {"phone", "mobile", "telephone", "phone_number", "手机", "手机号", "电话",
              "手机号码", "联系电话"},
    "language": {"language", "lang", "语言", "偏好语言"},
    "lifecycle_stage": {"lifecycle_stage", "lifecycle", "stage", "生命周期", "生命周期阶段"},
    "tags": {"tags", "tag", "标签"},
}


class ImportError_(ValueError):
    """The import as a whole is refused (bad mapping or options), before any row."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class ImportOptions:
    mode: str = "all_or_nothing"
    dry_run: bool = False
    mapping: dict[str, str] | None = None  # header -> target ("email", "attribute:plan", ...)
    types: dict[str, str] = field(default_factory=dict)  # new attribute key -> type
    encoding: str = "auto"
    add_tags: list[str] = field(default_factory=list)


@dataclass
class Column:
    header: str
    target: str  # a FIELD_TARGETS name, "attribute:<key>" or "ignore"
    type: str = ""  # attributes only
    new: bool = False  # the attribute is defined by this import


@dataclass
class ImportReport:
    job: ContactImport
    columns: list[Column]
    errors: list[ContactImportError]
    sample: list[dict[str, Any]]


def auto_target(header: str) -> str:
    normal = header.strip().lower().replace(" ", "_")
    for target, names in ALIASES.items():
        if normal in names:
            return target
    key = values.key_from_header(header)
    return f"attribute:{key}" if key else "ignore"


def plan_columns(source: RowSource, options: ImportOptions,
                 registry: AttributeRegistry) -> list[Column]:
    mapping = options.mapping or {}
    unknown = sorted(set(mapping) - set(source.header))
    if unknown:
        raise ImportError_("mapping", f"no column named {', '.join(unknown)} in the file")
    columns = []
    for header in source.header:
        target = mapping.get(header) or (auto_target(header) if header else "ignore")
        if target not in (*FIELD_TARGETS, "ignore") and not target.startswith("attribute:"):
            raise ImportError_("mapping", f"column '{header}': unknown target '{target}'")
        columns.append(Column(header=header, target=target))
    used = [c.target for c in columns if c.target != "ignore"]
    repeated = sorted({t for t in used if used.count(t) > 1})
    if repeated:
        raise ImportError_("mapping", f"two columns map to {', '.join(repeated)}")
    if "external_id" not in used:
        raise ImportError_("mapping", "one column must be the contact's external_id "
                           f"(columns: {', '.join(source.header)})")
    bad_types = sorted(set(options.types.values()) - set(TYPES))
    if bad_types:
        raise ImportError_("types", f"'{bad_types[0]}' is not a type ({', '.join(TYPES)})")
    _type_attributes(source, columns, options, registry)
    return columns


def _type_attributes(source: RowSource, columns: list[Column], options: ImportOptions,
                     registry: AttributeRegistry) -> None:
    """Known attributes keep their type; new ones take the type given in the options, or
    the one the first rows suggest."""
    to_sniff: dict[int, list[Any]] = {}
    for index, column in enumerate(columns):
        if not column.target.startswith("attribute:"):
            continue
        key = column.target.split(":", 1)[1]
        try:
            values.check_key(key)
        except ValueError as exc:
            raise ImportError_("mapping", f"column '{column.header}': {exc}") from exc
        column.type = registry.type_of(key) or options.types.get(key, "")
        column.new = registry.type_of(key) is None
        if not column.type:
            to_sniff[index] = []
    if to_sniff:
        for count, (_, cells) in enumerate(source.rows()):
            if count >= SNIFF_ROWS:
                break
            for index, samples in to_sniff.items():
                samples.append(cells[index] if index < len(cells) else None)
        for index, samples in to_sniff.items():
            columns[index].type = values.infer_text_type(samples)
    for column in columns:
        if column.new:
            registry.declare(column.target.split(":", 1)[1], column.type, label=column.header)


def _row_data(columns: list[Column], cells: list[Any], add_tags: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {"attributes": {}}
    for index, column in enumerate(columns):
        if column.target == "ignore":
            continue
        cell = cells[index] if index < len(cells) else None
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        if column.target.startswith("attribute:"):
            data["attributes"][column.target.split(":", 1)[1]] = cell
        elif column.target == "tags":
            data["add_tags"] = str(cell)
        elif column.target == "external_id" and isinstance(cell, float) and cell.is_integer():
            data["external_id"] = str(int(cell))  # Excel stores 10023 as 10023.0
        else:
            data[column.target] = cell if isinstance(cell, str) else values.cell_text(cell)
    if add_tags:
        data["tags_extra"] = add_tags
    return data


def _check_row(registry: AttributeRegistry, columns: list[Column], cells: list[Any],
               options: ImportOptions, phone_country: str) -> ContactChange:
    data = _row_data(columns, cells, options.add_tags)
    change = check_change(registry, data, mode="text", phone_country=phone_country)
    change.add_tags += [t for t in data.get("tags_extra", []) if t not in change.add_tags]
    return change


def _header_of(columns: list[Column], field_name: str) -> str:
    target = field_name.replace("attributes.", "attribute:").replace("add_tags", "tags")
    return next((c.header for c in columns if c.target == target), field_name)


def _cell_of(columns: list[Column], cells: list[Any], header: str) -> tuple[int, str]:
    """The column's position and the cell's text, for the error report."""
    for index, column in enumerate(columns):
        if column.header == header:
            cell = cells[index] if index < len(cells) else None
            return index, "" if cell is None else values.cell_text(cell)[:200]
    return -1, ""


def run_import(
    session: Session, *, org_id: str, file: IO[bytes], filename: str, options: ImportOptions,
    actor: str = "", phone_country: str = values.DEFAULT_COUNTRY_CODE,
) -> ImportReport:
    """Checks (and unless refused, applies) an import; flushes, the caller commits."""
    if options.mode not in MODES:
        raise ImportError_("mode", f"must be one of {', '.join(MODES)}")
    try:
        source = open_source(file, filename, options.encoding)
    except SourceError as exc:
        raise ImportError_("file", str(exc)) from exc
    registry = AttributeRegistry(session, org_id)
    columns = plan_columns(source, options, registry)
    job = ContactImport(
        org_id=org_id, filename=filename[:255], file_format=source.file_format,
        encoding=source.encoding.replace("-sig", ""), mode=options.mode,
        dry_run=options.dry_run, status=ImportStatus.preview.value, actor=actor,
        mapping={c.header: c.target for c in columns},
    )
    session.add(job)
    session.flush()
    sample: list[dict[str, Any]] = []
    try:
        _check_pass(session, job, source, columns, options, registry, phone_country, sample)
        apply = not options.dry_run and (job.error_rows == 0 or options.mode == "valid_only")
        if apply:
            _apply_pass(session, job, source, columns, options, registry, phone_country)
    except SourceError as exc:
        raise ImportError_("file", str(exc)) from exc
    if not options.dry_run:
        job.status = (ImportStatus.applied if apply else ImportStatus.rejected).value
    job.finished_at = utcnow()
    session.flush()
    errors = list(session.scalars(
        select(ContactImportError).where(ContactImportError.import_id == job.id)
        .order_by(*ERROR_ORDER).limit(200)))
    return ImportReport(job=job, columns=columns, errors=errors, sample=sample)


def _check_pass(session: Session, job: ContactImport, source: RowSource,
                columns: list[Column], options: ImportOptions, registry: AttributeRegistry,
                phone_country: str, sample: list[dict[str, Any]]) -> None:
    """Every row checked; errors written as they come; created/updated counted."""
    pending_errors: list[dict[str, Any]] = []
    pending_ids: list[str] = []
    counted: set[str] = set()

    def count_batch() -> None:
        fresh = [i for i in dict.fromkeys(pending_ids) if i not in counted]
        known = contacts_by_external_id(session, org_id=job.org_id, external_ids=fresh)
        job.updated_count += len(known)
        job.created_count += len(fresh) - len(known)
        counted.update(fresh)
        for contact in known.values():
            session.expunge(contact)
        pending_ids.clear()

    for number, cells in source.rows():
        job.total_rows += 1
        try:
            change = _check_row(registry, columns, cells, options, phone_country)
        except ContactError as exc:
            job.error_rows += 1
            for error in exc.errors:
                header = _header_of(columns, error.field)
                index, cell = _cell_of(columns, cells, header)
                pending_errors.append({
                    "id": new_id(), "import_id": job.id, "row_number": number,
                    "column_index": index, "field": header[:200], "reason": error.message,
                    "code": error.code, "params": error.params, "value": cell})
            if len(pending_errors) >= BATCH:
                session.execute(insert(ContactImportError), pending_errors)
                pending_errors.clear()
            continue
        job.valid_rows += 1
        pending_ids.append(change.external_id)
        if len(sample) < SAMPLE_ROWS:
            sample.append({"row": number, "external_id": change.external_id,
                           **{k: v for k, v in change.fields.items() if v is not None},
                           "attributes": {k: v for k, v in change.attributes.items()
                                          if v is not None},
                           "tags": change.add_tags})
        if len(pending_ids) >= BATCH:
            count_batch()
    if pending_errors:
        session.execute(insert(ContactImportError), pending_errors)
    count_batch()


def _apply_pass(session: Session, job: ContactImport, source: RowSource,
                columns: list[Column], options: ImportOptions, registry: AttributeRegistry,
                phone_country: str) -> None:
    registry.flush_new()
    batch: list[ContactChange] = []

    def write() -> None:
        for contact, _ in apply_changes(session, org_id=job.org_id, changes=batch):
            session.expunge(contact)  # keep the session (and memory) small
        batch.clear()

    for _, cells in source.rows():
        try:
            batch.append(_check_row(registry, columns, cells, options, phone_country))
        except ContactError:
            continue  # recorded by the first pass; valid_only skips it
        if len(batch) >= BATCH:
            write()
    if batch:
        write()


def list_imports(session: Session, *, org_id: str, limit: int = 20,
                 include_dry_runs: bool = True) -> list[ContactImport]:
    query = select(ContactImport).where(ContactImport.org_id == org_id)
    if not include_dry_runs:
        query = query.where(ContactImport.dry_run.is_(False))
    return list(session.scalars(query.order_by(ContactImport.created_at.desc()).limit(limit)))


def get_import(session: Session, *, org_id: str, import_id: str) -> ContactImport | None:
    return session.scalar(select(ContactImport).where(
        ContactImport.org_id == org_id, ContactImport.id == import_id))


def import_errors(
    session: Session, *, import_id: str, limit: int | None = None, offset: int = 0
) -> list[ContactImportError]:
    query = (select(ContactImportError).where(ContactImportError.import_id == import_id)
             .order_by(*ERROR_ORDER).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
