"""CSV and XLSX import: every bad row reported with its spreadsheet row number and column,
all-or-nothing vs valid_only, dry runs, encodings from Excel (UTF-8 BOM, GBK), mapping."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

from openpyxl import Workbook

GOOD_AND_BAD = (
    "external_id,email,phone,plan,orders,signup,vip,tags\n"
    "C-1,a@example.com,13800138000,pro,3,2026-01-05,yes,\"beta,north\"\n"   # row 2
    "C-2,not-an-email,13900139000,free,1,2026-02-01,no,\n"                  # row 3: email
    "C-3,c@example.com,,pro,many,2026-03-01,true,\n"                        # row 4: orders
    ",d@example.com,,pro,2,2026-03-02,false,\n"                             # row 5: id
    "\n"                                                                    # row 6: blank
    "C-6,e@example.com,,pro,5,31/02/2026,maybe,\n"                          # row 7: 2 fields
    "C-7,f@example.com,+44 20 7946 0958,free,0,2025-12-31,no,vip\n"         # row 8
)


def upload(client, org, content: bytes, filename="contacts.csv", status=200, **form):
    data = {k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in form.items()}
    response = client.post("/api/v1/contacts/import", files={"file": (filename, content)},
                           data=data, headers=org.headers)
    assert response.status_code == status, response.text
    return response.json()


def total(client, org) -> int:
    return client.get("/api/v1/contacts", headers=org.headers).json()["total"]


def bad_cells(report) -> list[tuple[int, str]]:
    return [(e["row_number"], e["field"]) for e in report["errors"]]


EXPECTED_ERRORS = [(3, "email"), (4, "orders"), (5, "external_id"), (7, "signup"), (7, "vip")]


def test_all_or_nothing_reports_every_bad_row_and_writes_nothing(client, org):
    report = upload(client, org, GOOD_AND_BAD.encode(), status=422)
    assert report["job"]["status"] == "rejected"
    assert bad_cells(report) == EXPECTED_ERRORS
    assert report["job"]["total_rows"] == 6 and report["job"]["error_rows"] == 4
    assert report["errors_total"] == 5
    assert "nothing was imported" in report["detail"][0]["msg"]
    assert total(client, org) == 0
    # Not even the attribute definitions of a refused import are kept.
    assert client.get("/api/v1/contact-attributes", headers=org.headers).json() == []
    # The error report downloads as CSV with the same rows.
    response = client.get(report["errors_url"], params={"lang": "en"}, headers=org.headers)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Column", "Problem", "Value"]
    assert [(int(r[0]), r[1]) for r in rows[1:]] == EXPECTED_ERRORS
    assert rows[1][2:] == ["'not-an-email' is not an email address", "not-an-email"]
    assert report["errors"][0]["code"] == "bad_email"
    # In Chinese for a Chinese user (the reasons are translated from their codes).
    zh = client.get(report["errors_url"], params={"lang": "zh-CN"}, headers=org.headers)
    zh_rows = list(csv.reader(io.StringIO(zh.content.decode("utf-8-sig"))))
    assert zh_rows[0][0] == "行号" and zh_rows[1][2] == "“not-an-email”不是有效的邮箱地址"


def test_valid_only_imports_the_good_rows(client, org):
    report = upload(client, org, GOOD_AND_BAD.encode(), mode="valid_only")
    assert report["job"]["status"] == "applied"
    assert bad_cells(report) == EXPECTED_ERRORS
    assert report["job"]["valid_rows"] == 2 and report["job"]["created_count"] == 2
    c1 = client.get("/api/v1/contacts/C-1", headers=org.headers).json()
    assert c1["attributes"] == {"plan": "pro", "orders": 3, "signup": "2026-01-05", "vip": True}
    assert c1["tags"] == ["beta", "north"] and c1["phone"] == "+8613800138000"
    c7 = client.get("/api/v1/contacts/C-7", headers=org.headers).json()
    assert c7["phone"] == "+442079460958"
    assert total(client, org) == 2
    types = {a["key"]: a["type"] for a in client.get(
        "/api/v1/contact-attributes", headers=org.headers).json()}
    assert types == {"plan": "string", "orders": "number", "signup": "date", "vip": "boolean"}


def test_dry_run_previews_without_writing(client, org):
    clean = "external_id,plan\nA,pro\nB,free\n"
    client.post("/api/v1/contacts", json={"external_id": "A"}, headers=org.headers)
    report = upload(client, org, clean.encode(), dry_run="true")
    assert report["job"]["status"] == "preview"
    assert report["job"]["created_count"] == 1 and report["job"]["updated_count"] == 1
    assert [s["external_id"] for s in report["sample"]] == ["A", "B"]
    assert total(client, org) == 1
    assert client.get("/api/v1/contacts/A", headers=org.headers).json()["attributes"] == {}


def test_bom_and_gbk_csv_from_excel(client, org):
    text = "客户编号,姓名,手机号,会员等级,标签\nZ-1,王芳,13800138000,金卡,高价值、华东\n"
    bom = upload(client, org, "\ufeff".encode() + text.encode("utf-8"), filename="bom.csv")
    assert bom["job"]["encoding"] == "utf-8" and bom["job"]["status"] == "applied"
    gbk = upload(client, org, text.replace("Z-1", "Z-2").encode("gbk"), filename="gbk.csv")
    assert gbk["job"]["encoding"] == "gb18030", gbk
    for external_id in ("Z-1", "Z-2"):
        contact = client.get(f"/api/v1/contacts/{external_id}", headers=org.headers).json()
        assert contact["name"] == "王芳"
        assert contact["attributes"] == {"会员等级": "金卡"}
        assert contact["tags"] == ["高价值", "华东"]


def test_xlsx_import_with_typed_cells(client, org):
    book = Workbook()
    sheet = book.active
    sheet.append(["Customer ID", "E-mail", "Spend", "Signed up", "Active", "Stage"])
    sheet.append([10023, "x@shop.cn", 1234.5, datetime(2026, 3, 4), True, "留存"])
    sheet.append(["K-2", "y@shop.cn", 99, date(2025, 1, 2), False, "referral"])
    sheet.append([None, None, None, None, None, None])  # row 4: blank
    sheet.append(["K-5", "bad@", "n/a", "2026-02-30", "x", "nope"])  # row 5
    sheet.append(["K-6", None, 5, date(2025, 6, 1), False, None])
    sheet.append(["K-7", None, 7, date(2025, 7, 1), True, None])
    buffer = io.BytesIO()
    book.save(buffer)
    mapping = {"Customer ID": "external_id", "Signed up": "attribute:signed_up"}
    report = upload(client, org, buffer.getvalue(), filename="people.xlsx", status=422,
                    mapping=mapping)
    assert report["job"]["file_format"] == "xlsx"
    assert bad_cells(report) == [(5, "E-mail"), (5, "Spend"), (5, "Signed up"), (5, "Active"),
                                 (5, "Stage")]
    report = upload(client, org, buffer.getvalue(), filename="people.xlsx",
                    mapping=mapping, mode="valid_only")
    assert report["job"]["created_count"] == 4
    first = client.get("/api/v1/contacts/10023", headers=org.headers).json()
    assert first["attributes"] == {"spend": 1234.5, "signed_up": "2026-03-04", "active": True}
    assert first["lifecycle_stage"] == "retention" and first["email"] == "x@shop.cn"


def test_existing_types_win_and_options_are_checked(client, org):
    client.post("/api/v1/contacts", json={"external_id": "T", "attributes": {"zip": "01234"}},
                headers=org.headers)
    report = upload(client, org, b"external_id,zip,score\nT2,20001,5\n", types={"score": "string"})
    contact = client.get("/api/v1/contacts/T2", headers=org.headers).json()
    assert contact["attributes"] == {"zip": "20001", "score": "5"}
    assert {c["header"]: c["type"] for c in report["columns"]} == {
        "external_id": "", "zip": "string", "score": "string"}
    no_id = client.post("/api/v1/contacts/import", files={"file": ("x.csv", b"email\na@b.cn\n")},
                        headers=org.headers)
    assert no_id.status_code == 422 and "external_id" in no_id.json()["detail"][0]["msg"]
    bad_mode = client.post("/api/v1/contacts/import", data={"mode": "some"},
                           files={"file": ("x.csv", b"id\n1\n")}, headers=org.headers)
    assert bad_mode.status_code == 422
    twice = client.post("/api/v1/contacts/import", files={"file": ("x.csv", b"id,a,a\n1,2,3\n")},
                        headers=org.headers)
    assert twice.status_code == 422 and "twice" in twice.json()["detail"][0]["msg"]
    fake = client.post("/api/v1/contacts/import", files={"file": ("x.xlsx", b"not a zip")},
                       headers=org.headers)
    assert fake.status_code == 422


def test_large_file_streams_in_batches(client, org):
    lines = ["external_id,orders,tier"] + [f"U{i},{i % 7},t{i % 3}" for i in range(5000)]
    lines[2501] = "U2500,lots,t1"  # row 2502
    content = ("\n".join(lines) + "\n").encode()
    report = upload(client, org, content, mode="valid_only")
    assert report["job"]["total_rows"] == 5000 and report["job"]["created_count"] == 4999
    assert bad_cells(report) == [(2502, "orders")]
    assert total(client, org) == 4999


def test_imports_are_private_to_the_org(client, org, make_org):
    report = upload(client, org, GOOD_AND_BAD.encode(), status=422)
    other = make_org("Other")
    job_id = report["job"]["id"]
    assert client.get(f"/api/v1/contact-imports/{job_id}",
                      headers=other.headers).status_code == 404
    assert client.get(report["errors_url"], headers=other.headers).status_code == 404
    assert client.get(f"/api/v1/contact-imports/{job_id}", headers=org.headers).json()[
        "errors_total"] == 5
