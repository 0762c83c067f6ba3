"""Write addons/crm_kpi/data/files/customer_retention_dashboard.json.

The "Customer retention" spreadsheet dashboard is data (an o-spreadsheet
JSON document, version 21 as Odoo 18 ships them); this script is its
source, so a change is reviewed here and regenerated with::

    python tools/gen_kpi_dashboard.py
"""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "addons/crm_kpi/data/files"
MODEL = "crm.kpi.customer.report"


def _definitions():
    """crm_retention's lib/definitions.py (no odoo import): the labels the
    dashboard shares with the reports."""
    path = ROOT / "addons/crm_retention/lib/definitions.py"
    spec = importlib.util.spec_from_file_location("crm_retention_definitions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEFS = _definitions()

FILTERS = [
    {
        "id": "f0a1c0de-0000-4000-8000-000000000001",
        "type": "date",
        "label": "Period",
        "defaultValue": "last_year",
        "rangeType": "relative",
    },
    {
        "id": "f0a1c0de-0000-4000-8000-000000000002",
        "type": "relation",
        "label": "Sales Team",
        "modelName": "crm.team",
        "defaultValue": [],
        "defaultValueDisplayNames": [],
        "rangeType": "year",
    },
    {
        "id": "f0a1c0de-0000-4000-8000-000000000003",
        "type": "relation",
        "label": "Salesperson",
        "modelName": "res.users",
        "defaultValue": [],
        "defaultValueDisplayNames": [],
        "rangeType": "year",
    },
    {
        "id": "f0a1c0de-0000-4000-8000-000000000004",
        "type": "relation",
        "label": "Country",
        "modelName": "res.country",
        "defaultValue": [],
        "defaultValueDisplayNames": [],
        "rangeType": "year",
    },
]
MATCHING = {
    FILTERS[0]["id"]: {"chain": "date", "type": "date", "offset": 0},
    FILTERS[1]["id"]: {"chain": "team_id", "type": "many2one"},
    FILTERS[2]["id"]: {"chain": "user_id", "type": "many2one"},
    FILTERS[3]["id"]: {"chain": "country_id", "type": "many2one"},
}

# (label, measure, format): "%" values are percentages the report computes
# x 100; the sheet divides them back to show "12.3%"
HEADLINE = [
    ("Customers at start", "customers_start", "0"),
    ("Customers at end", "customers_end", "0"),
    ("Acquired", "acquired_count", "0"),
    ("Acquired (% of start)", "acquired_rate", "%"),
    (DEFS.LOST_IN_PERIOD[0], "lost_count", "0"),
    ("Churn rate", "churn_rate", "%"),
    ("Won back", "won_back_count", "0"),
    ("Retention rate", "retention_rate", "%"),
    ("Active customers", "active_end", "0"),
    ("Won deals", "deal_count", "0"),
    ("Revenue", "revenue", "#,##0"),
    ("Average deal amount", "avg_deal_amount", "#,##0"),
    ("Deal frequency", "deal_frequency", "0.00"),
    ("Average predicted CLV", "avg_clv", "#,##0"),
]
BY_TEAM = [
    "customers_end",
    "acquired_count",
    "lost_count",
    "churn_rate",
    "retention_rate",
    "revenue",
]
BY_TEAM_LABELS = ["Customers", "Acquired", "Lost in Period", "Churn %", "Retention %", "Revenue"]

# the "right now" row: (label, pivot id, model, measure, domain); no period
# filter applies, the salesperson filter where the model has one; record rules
# give a salesman his own customers
RIGHT_NOW = [
    (DEFS.AT_RISK_NOW[0], "3", "crm.customer.profile", "__count",
     [["stage_kind", "=", "at_risk"]], "user_id"),
    (DEFS.VALUE_AT_RISK[0], "3", "crm.customer.profile", "value_at_risk",
     [["stage_kind", "=", "at_risk"]], "user_id"),
    ("Running campaigns", "4", "crm.retention.campaign", "__count",
     [["state", "=", "running"]], None),
    ("Overdue requests", "5", "crm.interaction", "__count",
     [["is_overdue", "=", True], ["state", "!=", "done"]], "user_id"),
]  # fmt: skip


def pivot(pid, name, measures, rows, model=MODEL, domain=(), matching=None):
    return {
        "type": "ODOO",
        "fieldMatching": MATCHING if matching is None else matching,
        "context": {},
        "domain": list(domain),
        "id": pid,
        "measures": [{"id": m, "fieldName": m} for m in measures],
        "model": model,
        "name": name,
        "sortedColumn": None,
        "formulaId": pid,
        "columns": [],
        "rows": [{"fieldName": r} for r in rows],
    }


# four tiles or two charts per row: 1040 px, inside the dashboard's width next
# to its side panel at 1366 px (and at 1920 px)
TILE_W, TILE_H, GAP = 250, 102, 10
CHART_W, CHART_H = 2 * TILE_W + GAP, 300
DASH_COLS = [220] + [92] * 9  # 1048 px: the four tiles (1030 px) and a margin


def scorecard(fid, x, y, title, row, background="#EFF6FF", humanize=True):
    return {
        "id": fid,
        "x": x,
        "y": y,
        "width": TILE_W,
        "height": TILE_H,
        "tag": "chart",
        "data": {
            "type": "scorecard",
            "title": {"text": title, "bold": True, "color": "#434343"},
            "background": background,
            "keyValue": f"Data!B{row}",
            "baseline": "",
            "baselineMode": "text",
            "baselineColorUp": "#00A04A",
            "baselineColorDown": "#DC6965",
            "baselineDescr": "",
            "humanize": humanize,
        },
    }


def chart(fid, x, y, kind, measure, title):
    return {
        "id": fid,
        "x": x,
        "y": y,
        "width": CHART_W,
        "height": CHART_H,
        "tag": "chart",
        "data": {
            "title": {"text": title, "bold": True, "color": "#434343"},
            "background": "#FFFFFF",
            "legendPosition": "none",
            "metaData": {
                "groupBy": ["date:month"],
                "measure": measure,
                "order": None,
                "resModel": MODEL,
                "mode": kind,
            },
            "searchParams": {
                "comparison": None,
                "context": {},
                "domain": [],
                "groupBy": ["date:month"],
                "orderBy": [],
            },
            "type": f"odoo_{kind}",
            "verticalAxisPosition": "left",
            "stacked": False,
            "fieldMatching": MATCHING,
        },
    }


def build():
    data_cells = {"A1": {"content": '=_t("KPI")'}, "B1": {"content": '=_t("Value")'}}
    formats = {"0": 1, "#,##0": 2, "0.00": 2, "%": 3}
    for i, (label, measure, fmt) in enumerate(HEADLINE, start=2):
        data_cells[f"A{i}"] = {"content": f'=_t("{label}")'}
        value = f'PIVOT.VALUE(1,"{measure}")'
        # a rate as text ("12.3%"): a scorecard shows a cell's value, not its format
        data_cells[f"B{i}"] = {
            "content": f'=IFERROR(TEXT({value}/100,"0.0%"),"")' if fmt == "%" else f"={value}",
            "format": formats[fmt],
        }
    row_of = {m: i for i, (_l, m, _f) in enumerate(HEADLINE, start=2)}
    now_rows = []
    for i, (label, pid, _model, measure, _domain, _user) in enumerate(
        RIGHT_NOW, start=len(HEADLINE) + 2
    ):
        data_cells[f"A{i}"] = {"content": f'=_t("{label}")'}
        data_cells[f"B{i}"] = {"content": f'=PIVOT.VALUE({pid},"{measure}")', "format": 2}
        now_rows.append((label, i))

    dash_cells = {"A1": {"content": '=_t("Customer retention")', "style": 1}}
    ids = (f"c0ffee00-0000-4000-8000-{n:012d}" for n in range(1, 100))
    figures = []
    y = 40
    # right now: what to act on today, whatever the period
    for col, (label, row) in enumerate(now_rows):
        figures.append(scorecard(next(ids), col * (TILE_W + GAP), y, label, row, "#FFF4E5"))
    # the period's flows and rates
    for tiles in (
        [("Customers", "customers_end"), ("Acquired", "acquired_count"),
         (DEFS.LOST_IN_PERIOD[0], "lost_count"), ("Won back", "won_back_count")],
        [("Churn rate", "churn_rate"), ("Retention rate", "retention_rate"),
         ("Revenue", "revenue"), ("Average deal amount", "avg_deal_amount")],
    ):  # fmt: skip
        y += TILE_H + GAP
        for col, (label, measure) in enumerate(tiles):
            # a rate is text already ("12.3%")
            rate = {m: f for _l, m, f in HEADLINE}[measure] == "%"
            figures.append(
                scorecard(
                    next(ids), col * (TILE_W + GAP), y, label, row_of[measure], humanize=not rate
                )
            )
    y += TILE_H + GAP
    for charts in (
        [("line", "customers_end", "Customers"), ("bar", "acquired_count", "Acquired customers")],
        [("bar", "lost_count", "Customers lost in the period"), ("line", "revenue", "Revenue")],
    ):
        for col, (kind, measure, title) in enumerate(charts):
            figures.append(chart(next(ids), col * (CHART_W + GAP), y, kind, measure, title))
        y += CHART_H + GAP
    # team table below the charts (rows of 23 px)
    top = y // 23 + 2
    dash_cells[f"A{top}"] = {"content": '=_t("By sales team")', "style": 1}
    dash_cells[f"A{top + 1}"] = {"content": '=_t("Sales Team")', "style": 2}
    cols = "BCDEFG"
    for col, label in zip(cols, BY_TEAM_LABELS, strict=True):
        dash_cells[f"{col}{top + 1}"] = {"content": f'=_t("{label}")', "style": 2}
    for n in range(1, 11):
        r = top + 1 + n
        dash_cells[f"A{r}"] = {"content": f'=PIVOT.HEADER(2,"#team_id",{n})'}
        for col, measure in zip(cols, BY_TEAM, strict=True):
            dash_cells[f"{col}{r}"] = {
                "content": f'=PIVOT.VALUE(2,"{measure}","#team_id",{n})',
                "format": 2,
            }
    now_pivots = {}
    for _label, pid, model, measure, domain, user_field in RIGHT_NOW:
        spec = now_pivots.setdefault(pid, {"model": model, "measures": [], "domain": domain,
                                           "user": user_field})  # fmt: skip
        spec["measures"].append(measure)
    doc = {
        "version": 21,
        "sheets": [
            {
                "id": "dashboard",
                "name": "Dashboard",
                # the dashboard shows the columns' width: wide enough for the
                # four tiles of a row (TILE_W + GAP each)
                "colNumber": len(DASH_COLS),
                "rowNumber": 80,
                "rows": {},
                "cols": {str(i): {"size": size} for i, size in enumerate(DASH_COLS)},
                "merges": [],
                "cells": dash_cells,
                "conditionalFormats": [],
                "figures": figures,
                "areGridLinesVisible": False,
                "isVisible": True,
            },
            {
                "id": "data",
                "name": "Data",
                "colNumber": 3,
                "rowNumber": len(HEADLINE) + len(RIGHT_NOW) + 2,
                "rows": {},
                "cols": {"0": {"size": 220}},
                "merges": [],
                "cells": data_cells,
                "conditionalFormats": [],
                "figures": [],
                "areGridLinesVisible": True,
                "isVisible": True,
            },
        ],
        "styles": {
            "1": {"textColor": "#01666b", "bold": True, "fontSize": 16},
            "2": {"textColor": "#434343", "bold": True, "fontSize": 11},
        },
        "formats": {"1": "0", "2": "#,##0.0", "3": "0.0%"},
        "borders": {},
        "revisionId": "START_REVISION",
        "uniqueFigureIds": True,
        "settings": {
            "locale": {
                "name": "English (US)",
                "code": "en_US",
                "thousandsSeparator": ",",
                "decimalSeparator": ".",
                "dateFormat": "mm/dd/yyyy",
                "timeFormat": "hh:mm:ss",
                "formulaArgSeparator": ",",
                "weekStart": 7,
            }
        },
        "pivots": {
            "1": pivot("1", "Customer KPIs", [m for _l, m, _f in HEADLINE], []),
            "2": pivot("2", "Customer KPIs by team", BY_TEAM, ["team_id"]),
            **{
                pid: pivot(
                    pid,
                    f"Right now: {spec['model']}",
                    spec["measures"],
                    [],
                    model=spec["model"],
                    domain=spec["domain"],
                    matching={FILTERS[2]["id"]: {"chain": spec["user"], "type": "many2one"}}
                    if spec["user"]
                    else {},
                )  # fmt: skip
                for pid, spec in now_pivots.items()
            },
        },
        "pivotNextId": 6,
        "customTableStyles": {},
        "odooVersion": 12,
        "globalFilters": FILTERS,
        "lists": {},
        "listNextId": 1,
        "chartOdooMenusReferences": {
            f["id"]: "crm_kpi.crm_kpi_customer_report_menu"
            for f in figures
            if f["data"]["type"].startswith("odoo_")
        },
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "customer_retention_dashboard.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    build()
