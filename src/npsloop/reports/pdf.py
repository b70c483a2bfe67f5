"""The digest as a PDF (reportlab: pure Python wheels, no system packages).

Text is set in Adobe's STSong-Light CID font, which reportlab supports out of the box for
Chinese; its Latin glyphs cover English too, so one font serves both languages. Charts are
reportlab graphics (vector): the relationship NPS trend as a line with its responses, the
touchpoint NPS by stage as horizontal bars.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from npsloop.reports.content import DigestContent
from npsloop.reports.digest_view import display

FONT = "STSong-Light"
GREY = colors.HexColor("#6b7280")
LINE = colors.HexColor("#e5e7eb")
BLUE = colors.HexColor("#2563eb")


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=18, leading=24),
        "sub": ParagraphStyle("sub", fontName=font, fontSize=10, leading=14, textColor=GREY),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=10,
                             spaceAfter=4),
        "body": ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13),
        "muted": ParagraphStyle("muted", fontName=font, fontSize=9, leading=12,
                                textColor=GREY),
        "big": ParagraphStyle("big", fontName=font, fontSize=30, leading=34),
    }


def _escape(text: Any) -> str:
    return _plain(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> str:
    """STSong-Light (Adobe-GB1) has no middle dot: '·' would print as a box."""
    return text.replace(" · ", " / ").replace("·", "/")


def trend_chart(rows: list[Any], width: float, label_nps: str) -> Drawing:
    drawing = Drawing(width, 150)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 34, 28, width - 44, 110
    values = [r.nps for r in rows]
    known = [v for v in values if v is not None]
    low = min([*known, 0.0]) if known else -10.0
    high = max([*known, 10.0]) if known else 10.0
    span = max(high - low, 10.0)
    chart.valueAxis.valueMin = round(low - span * 0.15)
    chart.valueAxis.valueMax = round(high + span * 0.15)
    chart.data = [[v if v is not None else None for v in values]]
    chart.categoryAxis.categoryNames = [r.label for r in rows]
    chart.categoryAxis.labels.fontName = _font()
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.dy = -8
    chart.valueAxis.labels.fontName = _font()
    chart.valueAxis.labels.fontSize = 7
    chart.lines[0].strokeColor = BLUE
    chart.lines[0].strokeWidth = 2
    chart.lines[0].symbol = makeMarker("FilledCircle", size=3)
    chart.joinedLines = 1
    drawing.add(chart)
    if chart.valueAxis.valueMin < 0 < chart.valueAxis.valueMax:
        zero = chart.y + chart.height * (0 - chart.valueAxis.valueMin) / (
            chart.valueAxis.valueMax - chart.valueAxis.valueMin)
        drawing.add(Line(chart.x, zero, chart.x + chart.width, zero,
                         strokeColor=GREY, strokeDashArray=[2, 2], strokeWidth=0.5))
    drawing.add(String(chart.x, 142, label_nps, fontName=_font(), fontSize=8, fillColor=GREY))
    return drawing


def stage_chart(rows: list[Any], width: float) -> Drawing:
    height = 18 * len(rows) + 30
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 190, 20, width - 230, 18 * len(rows)
    # reportlab draws the first category at the bottom: reverse to read top-down.
    ordered = list(reversed(rows))
    chart.data = [[r.nps or 0.0 for r in ordered]]
    chart.categoryAxis.categoryNames = [_plain(r.label)[:32] for r in ordered]
    chart.categoryAxis.labels.fontName = _font()
    chart.categoryAxis.labels.fontSize = 8
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.valueAxis.valueMin = -100
    chart.valueAxis.valueMax = 100
    chart.valueAxis.valueStep = 50
    chart.valueAxis.labels.fontName = _font()
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = BLUE
    chart.bars[0].strokeColor = None
    for index, r in enumerate(ordered):
        chart.bars[(0, index)].fillColor = colors.HexColor(r.colour)
    chart.barLabelFormat = "%.1f"
    chart.barLabels.fontName = _font()
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 10
    drawing.add(chart)
    return drawing


def render_pdf(content: DigestContent) -> bytes:
    view = display(content)
    t = view["t"]
    styles = _styles()
    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm, title=view["title"],
                            author="npsloop", lang=content.language)
    width = A4[0] - 36 * mm
    head = view["headline"]
    story: list[Any] = [
        Paragraph(_escape(view["title"]), styles["title"]),
        Paragraph(_escape(t("reports.digest.period", period=view["period"])), styles["sub"]),
        Spacer(1, 8),
    ]
    rate = view["response_rate"]
    detail = t("reports.rate.detail", responded=rate["responded"], invited=rate["invited"])
    rate_text = f"{rate['rate']} ({detail})" if rate["rate"] else t("reports.rate.none")
    significance = (t("reports.digest.significant") if head["significant"]
                    else t("reports.digest.not_significant"))
    cells = [
        [Paragraph(_escape(t("reports.digest.nps")), styles["muted"]),
         Paragraph(_escape(t("reports.digest.vs_previous")), styles["muted"]),
         Paragraph(_escape(t("reports.digest.volume")), styles["muted"]),
         Paragraph(_escape(t("reports.digest.response_rate")), styles["muted"])],
        [Paragraph(f'<font color="{head["colour"]}">{head["nps"]}</font>', styles["big"]),
         Paragraph(f'{head["difference"]}<br/><font size="8" color="#6b7280">'
                   f'{_escape(significance)}</font>', styles["body"]),
         Paragraph(f"{view['volume']:,}", styles["body"]),
         Paragraph(_escape(rate_text), styles["body"])],
        [Paragraph(f"± {head['margin']} / n = {head['n']:,}", styles["muted"]),
         Paragraph(_escape(t("reports.digest.previous", nps=head["previous"],
                             n=f"{head['previous_n']:,}")), styles["muted"]), "", ""],
    ]
    table = Table(cells, colWidths=[width * 0.3, width * 0.26, width * 0.18, width * 0.26])
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.5, LINE), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    story += [table, Paragraph(_escape(t(f"reports.digest.trend_{view['trend_bucket']}")),
                               styles["h2"])]
    if sum(r.nps is not None for r in view["trend"]) >= 2:  # a line needs two points
        story.append(trend_chart(view["trend"], width, t("reports.digest.nps")))
    else:
        story.append(Paragraph(_escape(t("reports.digest.no_relationship")), styles["muted"]))
    story.append(Paragraph(_escape(t("reports.digest.stages")), styles["h2"]))
    if view["stages"]:
        story.append(stage_chart(view["stages"], width))
    else:
        story.append(Paragraph(_escape(t("reports.digest.no_stages")), styles["muted"]))
    story += [Paragraph(_escape(t("reports.digest.movers")), styles["h2"]),
              Paragraph(_escape(t("reports.digest.movers_help", tested=view["tested"])),
                        styles["muted"]), Spacer(1, 4)]
    if view["movers"]:
        rows = [[Paragraph(f"<b>{_escape(m['label'])}</b> "
                           f'<font color="#6b7280">{_escape(m["dimension"])}</font>',
                           styles["body"]),
                 Paragraph(f"{m['previous']} → {m['current']}", styles["body"]),
                 Paragraph(f'<font color="{m["colour"]}">{m["difference"]}</font>',
                           styles["body"]),
                 Paragraph(f"p {m['p']}", styles["muted"])] for m in view["movers"]]
        movers_table = Table(rows, colWidths=[width * 0.46, width * 0.22, width * 0.14,
                                              width * 0.18])
        movers_table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.3, LINE)]))
        story.append(movers_table)
    else:
        story.append(Paragraph(_escape(t("reports.digest.no_movers")), styles["muted"]))
    story += [Spacer(1, 12), Paragraph(_escape(t("reports.digest.footer")), styles["muted"])]
    doc.build(story)
    return buffer.getvalue()
