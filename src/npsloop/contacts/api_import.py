"""JSON routes for CSV/XLSX imports and their error reports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import func, select

from npsloop.accounts.service import audit, get_organization
from npsloop.analytics.exports import neutralise
from npsloop.contacts import importing, service, values
from npsloop.contacts.api_common import Reader, Writer, not_found, unprocessable
from npsloop.contacts.models import ContactImportError, ImportStatus
from npsloop.contacts.schemas import (
    ImportColumnOut,
    ImportErrorOut,
    ImportJobOut,
    ImportReportOut,
)
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.i18n import catalogs, translate

router = APIRouter(tags=["contacts"])
MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def _json_option(raw: str | None, name: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise unprocessable([(name, f"is not JSON: {exc.msg}")]) from exc
    if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
        raise unprocessable([(name, 'must be a JSON object of strings, e.g. {"手机": "phone"}')])
    return parsed


def errors_total(db: SessionDep, import_id: str) -> int:
    return db.scalar(select(func.count()).select_from(ContactImportError).where(
        ContactImportError.import_id == import_id)) or 0


def report_out(db: SessionDep, report: importing.ImportReport) -> ImportReportOut:
    return ImportReportOut(
        job=ImportJobOut.model_validate(report.job),
        columns=[ImportColumnOut(header=c.header, target=c.target, type=c.type, new=c.new)
                 for c in report.columns],
        errors=[ImportErrorOut.model_validate(e) for e in report.errors],
        errors_total=errors_total(db, report.job.id),
        errors_url=f"/api/v1/contact-imports/{report.job.id}/errors.csv",
        sample=report.sample,
    )


@router.post("/contacts/import", response_model=ImportReportOut, responses={
    422: {"description": "the file was refused, or all_or_nothing found bad rows (the body "
                         "then holds the full report next to `detail`)"}})
def import_contacts(
    db: SessionDep,
    principal: Writer,
    file: Annotated[UploadFile, File(description="CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX")],
    mode: Annotated[str, Form(description="all_or_nothing (default) or valid_only")]
    = "all_or_nothing",
    dry_run: Annotated[bool, Form(description="check and preview; write nothing")] = False,
    mapping: Annotated[str | None, Form(
        description='JSON: column header -> external_id, name, email, phone, language, '
                    'lifecycle_stage, tags, attribute:<key> or ignore')] = None,
    types: Annotated[str | None, Form(
        description='JSON: new attribute key -> string, number, date or boolean')] = None,
    encoding: Annotated[str, Form(description="auto, utf-8 or gbk")] = "auto",
    add_tags: Annotated[str, Form(description="tags added to every imported contact")] = "",
) -> Any:
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        return JSONResponse({"detail": f"the file is larger than "
                             f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB"}, status_code=413)
    try:
        extra_tags = values.normalize_tags(add_tags)
    except ValueError as exc:
        raise unprocessable([("add_tags", str(exc))]) from exc
    options = importing.ImportOptions(
        mode=mode, dry_run=dry_run, mapping=_json_option(mapping, "mapping") or None,
        types=_json_option(types, "types"), encoding=encoding, add_tags=extra_tags)
    org = get_organization(db, principal.org_id)
    try:
        report = importing.run_import(
            db, org_id=principal.org_id, file=file.file, filename=file.filename or "upload",
            options=options, actor=principal.actor,
            phone_country=service.country_code(org.timezone if org else None))
    except importing.ImportError_ as exc:
        db.rollback()
        raise unprocessable([(exc.field, exc.message)]) from exc
    job = report.job
    if not dry_run:
        audit(db, org_id=principal.org_id, actor=principal.actor, action="contact.import",
              target=("contact_import", job.id),
              detail={"status": job.status, "rows": job.total_rows, "errors": job.error_rows})
    db.commit()
    out = report_out(db, report)
    if job.status == ImportStatus.rejected:
        body = out.model_dump(mode="json")
        body["detail"] = [{"loc": ["body", "file"], "type": "value_error",
                           "msg": f"{job.error_rows} of {job.total_rows} rows have errors; "
                                  "nothing was imported (send mode=valid_only to import the "
                                  "valid rows)"}]
        return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return out


@router.get("/contact-imports", response_model=list[ImportJobOut])
def list_imports(db: SessionDep, principal: Reader) -> list[ImportJobOut]:
    return [ImportJobOut.model_validate(j)
            for j in importing.list_imports(db, org_id=principal.org_id)]


@router.get("/contact-imports/{import_id}", response_model=ImportReportOut)
def get_import(import_id: str, db: SessionDep, principal: Reader) -> ImportReportOut:
    job = importing.get_import(db, org_id=principal.org_id, import_id=import_id)
    if job is None:
        raise not_found("import", import_id)
    columns = [importing.Column(header=h, target=t) for h, t in job.mapping.items()]
    errors = importing.import_errors(db, import_id=job.id, limit=200)
    return report_out(db, importing.ImportReport(job=job, columns=columns, errors=errors,
                                                 sample=[]))


@router.get("/contact-imports/{import_id}/errors", response_model=list[ImportErrorOut])
def import_errors(
    import_id: str, db: SessionDep, principal: Reader,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[ImportErrorOut]:
    job = importing.get_import(db, org_id=principal.org_id, import_id=import_id)
    if job is None:
        raise not_found("import", import_id)
    rows = importing.import_errors(db, import_id=job.id, limit=limit, offset=offset)
    return [ImportErrorOut.model_validate(e) for e in rows]


@router.get("/contact-imports/{import_id}/errors.csv", response_class=StreamingResponse,
            responses={200: {"description": "Every problem of the import as CSV",
                             "content": {"text/csv": {}}}})
def import_errors_csv(import_id: str, request: Request, db: SessionDep,
                      principal: Reader) -> StreamingResponse:
    """Every problem of the import as a CSV (UTF-8 with BOM, so Excel shows Chinese)."""
    job = importing.get_import(db, org_id=principal.org_id, import_id=import_id)
    if job is None:
        raise not_found("import", import_id)
    factory = request.app.state.session_factory
    lang = request_language(request)
    table = catalogs().get(lang, {})

    def reason(error: ContactImportError) -> str:
        # In the caller's language (Accept-Language, ?lang=, cookie) when translated.
        key = f"contacts.error.{error.code}"
        return translate(key, lang, **error.params) if key in table else error.reason

    def lines() -> Iterator[str]:
        # Streams after the handler returned: reads with a session of its own, in pages.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([translate(f"contacts.import.col.{c}", lang)
                         for c in ("row", "column", "reason", "value")])
        yield "\ufeff" + buffer.getvalue()
        offset = 0
        with factory() as session:
            while rows := importing.import_errors(session, import_id=job.id, limit=2000,
                                                  offset=offset):
                buffer.seek(0)
                buffer.truncate()
                for error in rows:
                    # The field and value come from the uploaded file: a cell like
                    # =HYPERLINK(...) must reach the spreadsheet as text, not a formula.
                    writer.writerow([error.row_number, neutralise(error.field), reason(error),
                                     neutralise(error.value)])
                yield buffer.getvalue()
                offset += len(rows)

    name = f"import-errors-{job.id[:8]}.csv"
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
