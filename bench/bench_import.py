"""Benchmark: a 100,000-row CSV contact import (check, then apply) on SQLite, with how much
the process's peak memory grows, to show the import streams instead of loading the file.
Also a smaller XLSX import. Rows carry typed attributes, tags and a few bad rows.

    .venv/bin/python -m bench.bench_import
    .venv/bin/python -m bench.bench_import --rows 20000 --xlsx-rows 5000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from npsloop.accounts.service import create_organization
from npsloop.contacts.importing import ImportOptions, run_import
from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade

HEADER = ["客户编号", "姓名", "手机号", "邮箱", "会员等级", "累计消费", "注册日期", "是否订阅",
          "标签"]


def row(i: int) -> list[str]:
    bad = i % 10_000 == 7  # ten bad rows per 100,000
    return [f"C{i:07d}", f"客户{i}", f"138{i % 100_000_000:08d}",
            "not-an-email" if bad else f"c{i}@example.cn", ["金卡", "银卡", "普通"][i % 3],
            str((i * 37) % 5000), f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
            ["是", "否"][i % 2], "华东、高价值" if i % 5 == 0 else ""]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_import(engine, org_id: str, path: Path, *, dry_run: bool) -> None:
    start_peak = peak_mb()
    start = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session, path.open("rb") as handle:
        report = run_import(session, org_id=org_id, file=handle, filename=path.name,
                            options=ImportOptions(mode="valid_only", dry_run=dry_run))
        session.commit()
        job = report.job
    took = time.perf_counter() - start
    print(f"  {path.suffix[1:]:4s} {'check' if dry_run else 'apply':5s} {job.total_rows:>7,} rows "
          f"in {took:6.1f} s ({job.total_rows / took:,.0f} rows/s), {job.error_rows} bad rows, "
          f"{job.created_count:,} new, peak memory +{peak_mb() - start_peak:.0f} MB "
          f"(file {path.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx-rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            org, _, _ = create_organization(
                session, name="Bench", admin_email=f"b-{uuid.uuid4().hex[:8]}@example.test",
                admin_password="password-123")
            session.commit()
            org_id = org.id
        csv_path = Path(folder) / "contacts.csv"
        with csv_path.open("w", encoding="gbk", newline="") as out:  # as Excel in China saves
            out.write(",".join(HEADER) + "\r\n")
            for i in range(args.rows):
                out.write(",".join(f'"{v}"' if "," in v else v for v in row(i)) + "\r\n")
        print(f"sqlite, baseline peak memory {peak_mb():.0f} MB:")
        timed_import(engine, org_id, csv_path, dry_run=True)
        timed_import(engine, org_id, csv_path, dry_run=False)
        if args.xlsx_rows:
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = book.create_sheet()
            sheet.append(HEADER)
            for i in range(args.rows, args.rows + args.xlsx_rows):
                sheet.append(row(i))
            xlsx_path = Path(folder) / "contacts.xlsx"
            book.save(xlsx_path)
            timed_import(engine, org_id, xlsx_path, dry_run=False)
        engine.dispose()


if __name__ == "__main__":
    main()
