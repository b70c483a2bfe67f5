"""Reading an uploaded CSV or XLSX file row by row, without holding it in memory.

CSV encodings: UTF-8 (with or without the BOM Excel writes), UTF-16 with a BOM, and GBK /
GB18030, which Excel on Chinese Windows uses for "CSV (comma delimited)". With encoding
"auto" a file that is not valid UTF-8 is read as GB18030 (a superset of GBK).
Row numbers are those a spreadsheet shows: the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

CHUNK = 1 << 20
ENCODINGS = {"auto": "auto", "utf-8": "utf-8-sig", "utf8": "utf-8-sig", "gbk": "gb18030",
             "gb18030": "gb18030", "gb2312": "gb18030", "utf-16": "utf-16"}
MAX_COLUMNS = 200


class SourceError(ValueError):
    """The file as a whole cannot be read (format, encoding, header)."""


@dataclass
class RowSource:
    file: IO[bytes]
    file_format: str  # "csv" | "xlsx"
    encoding: str  # the encoding used (CSV), "" for XLSX
    header: list[str]

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cells) for every row after the header; blank rows are skipped but
        still counted, so numbers match what the user sees."""
        iterator = _csv_rows(self.file, self.encoding) if self.file_format == "csv" else (
            _xlsx_rows(self.file))
        next(iterator, None)  # the header
        for number, cells in enumerate(iterator, start=2):
            if any(c not in (None, "") and not (isinstance(c, str) and not c.strip())
                   for c in cells):
                yield number, list(cells)


def detect_format(filename: str, head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise SourceError("the file is named .xlsx but is not an Excel workbook")
    if filename.lower().endswith(".xls"):
        raise SourceError("old .xls workbooks are not supported: save as .xlsx or CSV")
    return "csv"


def open_source(file: IO[bytes], filename: str, encoding: str = "auto") -> RowSource:
    file.seek(0)
    head = file.read(4096)
    file.seek(0)
    if not head.strip():
        raise SourceError("the file is empty")
    file_format = detect_format(filename, head)
    if file_format == "xlsx":
        chosen = ""
        header_cells = next(_xlsx_rows(file), None)
    else:
        wanted = ENCODINGS.get(encoding.lower())
        if wanted is None:
            raise SourceError(f"unknown encoding '{encoding}'; use auto, utf-8 or gbk")
        chosen = _detect_encoding(file) if wanted == "auto" else wanted
        header_cells = next(_csv_rows(file, chosen), None)
    file.seek(0)
    header = [str(c).strip() if c is not None else "" for c in (header_cells or [])]
    while header and header[-1] == "":
        header.pop()
    if not header:
        raise SourceError("the first row must name the columns")
    if len(header) > MAX_COLUMNS:
        raise SourceError(f"at most {MAX_COLUMNS} columns")
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise SourceError(f"column '{name}' appears twice in the header")
        seen.add(name)
    return RowSource(file=file, file_format=file_format, encoding=chosen, header=header)


def _detect_encoding(file: IO[bytes]) -> str:
    file.seek(0)
    start = file.read(4)
    if start.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        # Valid UTF-8 throughout? Checked chunk by chunk with an incremental decoder.
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        encoding = "utf-8-sig"
        try:
            while chunk := file.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "gb18030"
    file.seek(0)
    return encoding


def _csv_rows(file: IO[bytes], encoding: str) -> Iterator[list[Any]]:
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        try:
            # Inside the guard: reading the first line already decodes a whole chunk.
            first = text.readline()
            text.seek(0)
            delimiter = max((",", ";", "\t"), key=first.count) if first else ","
            yield from csv.reader(text, delimiter=delimiter)
        except UnicodeError as exc:  # also UTF-16 without its byte order mark
            raise SourceError(
                f"the file is not valid {encoding.replace('-sig', '')}: choose its encoding"
            ) from exc
        except csv.Error as exc:
            raise SourceError(f"the CSV cannot be read: {exc}") from exc
    finally:
        text.detach()  # leave the upload open for the second pass


def _xlsx_rows(file: IO[bytes]) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # imported here: only imports need it

    file.seek(0)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SourceError(f"the workbook cannot be read: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()
