"""The import page: choose a file, check it (dry run), adjust the column mapping, import.

The page script (static/js/contacts.js) talks to POST /api/v1/contacts/import with the
signed-in session and its CSRF token; this route renders the form and the recent runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from npsloop.accounts.deps import Principal, require
from npsloop.contacts import importing
from npsloop.contacts.attributes import TYPES
from npsloop.contacts.importing import FIELD_TARGETS
from npsloop.contacts.page_helpers import local_time, script_strings
from npsloop.core.deps import SessionDep, request_language
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Writer = Annotated[Principal, Depends(require("response:write", page=True))]
SCRIPT_KEYS = ("contacts.import.", "contacts.field.", "contacts.type.", "contacts.target.",
               "contacts.error.")


@router.get("/contacts/import", response_class=HTMLResponse)
def import_page(request: Request, db: SessionDep, principal: Writer) -> HTMLResponse:
    request.state.principal = principal
    lang = request_language(request)
    return render(request, "contacts/import.html", {
        "imports": importing.list_imports(db, org_id=principal.org_id, limit=10,
                                          include_dry_runs=False),
        "script_data": {"targets": list(FIELD_TARGETS), "types": list(TYPES),
                        "strings": script_strings(lang, SCRIPT_KEYS)},
        "local": local_time(db, principal.org_id),
    })
