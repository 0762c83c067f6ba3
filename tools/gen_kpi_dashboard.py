"""Write addons/crm_kpi/data/files/customer_retention_dashboard.json.

The "Customer retention" spreadsheet dashboard is data (an o-spreadsheet
JSON document, version 21 as Odoo 18 ships them); this script is its
source, so a change is reviewed here and regenerated with::

    python tools/gen_kpi_dashboard.py
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "addons/crm_kpi/data/files"
MODEL = "crm.kpi.customer.report"

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

# (label, measure, format)
HEADLINE = [
    ("Customers at start", "customers_start", "0"),
    ("Customers at end", "customers_end", "0"),
    ("Acquired", "acquired_count", "0"),
    ("Acquired (% of start)", "acquired_rate", "0.0"),
    ("Lost", "lost_count", "0"),
    ("Churn rate (%)", "churn_rate", "0.0"),
    ("Won back", "won_back_count", "0"),
    ("Retention rate (%)", "retention_rate", "0.0"),
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
BY_TEAM_LABELS = ["Customers", "Acquired", "Lost", "Churn %", "Retention %", "Revenue"]


def pivot(pid, name, measures, rows):
    return {
        "type": "ODOO",
        "fieldMatching": MATCHING,
        "context": {},
        "domain": [],
        "id": pid,
        "measures": [{"id": m, "fieldName": m} for m in measures],
        "model": MODEL,
        "name": name,
        "sortedColumn": None,
        "formulaId": pid,
        "columns": [],
        "rows": [{"fieldName": r} for r in rows],
    }


def scorecard(fid, x, y, title, row):
    return {
        "id": fid,
        "x": x,
        "y": y,
        "width": 200,
        "height": 102,
        "tag": "chart",
        "data": {
            "type": "scorecard",
            "title": {"text": title, "bold": True, "color": "#434343"},
            "background": "#EFF6FF",
            "keyValue": f"Data!B{row}",
            "baseline": "",
            "baselineMode": "text",
            "baselineColorUp": "#00A04A",
            "baselineColorDown": "#DC6965",
            "baselineDescr": "",
            "humanize": True,
        },
    }


def chart(fid, x, y, kind, measure, title):
    return {
        "id": fid,
        "x": x,
        "y": y,
        "width": 520,
        "height": 300,
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
    for i, (label, measure, fmt) in enumerate(HEADLINE, start=2):
        data_cells[f"A{i}"] = {"content": f'=_t("{label}")'}
        data_cells[f"B{i}"] = {
            "content": f'=PIVOT.VALUE(1,"{measure}")',
            "format": 1 if fmt == "0" else 2,
        }
    row_of = {m: i for i, (_l, m, _f) in enumerate(HEADLINE, start=2)}

    dash_cells = {"A1": {"content": '=_t("Customer retention")', "style": 1}}
    # team table below the charts
    top = 36
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
    figures = [
        scorecard(
            "c0ffee00-0000-4000-8000-000000000001", 0, 40, "Customers", row_of["customers_end"]
        ),
        scorecard(
            "c0ffee00-0000-4000-8000-000000000002", 210, 40, "Acquired", row_of["acquired_count"]
        ),
        scorecard("c0ffee00-0000-4000-8000-000000000003", 420, 40, "Lost", row_of["lost_count"]),
        scorecard(
            "c0ffee00-0000-4000-8000-000000000004", 630, 40, "Churn rate (%)", row_of["churn_rate"]
        ),
        scorecard(
            "c0ffee00-0000-4000-8000-000000000005",
            840,
            40,
            "Retention rate (%)",
            row_of["retention_rate"],
        ),
        scorecard("c0ffee00-0000-4000-8000-000000000006", 1050, 40, "Revenue", row_of["revenue"]),
        chart("c0ffee00-0000-4000-8000-000000000011", 0, 160, "line", "customers_end", "Customers"),
        chart(
            "c0ffee00-0000-4000-8000-000000000012",
            530,
            160,
            "bar",
            "acquired_count",
            "Acquired customers",
        ),
        chart(
            "c0ffee00-0000-4000-8000-000000000013", 0, 470, "bar", "lost_count", "Lost customers"
        ),
        chart("c0ffee00-0000-4000-8000-000000000014", 530, 470, "line", "revenue", "Revenue"),
    ]
    doc = {
        "version": 21,
        "sheets": [
            {
                "id": "dashboard",
                "name": "Dashboard",
                "colNumber": 8,
                "rowNumber": 50,
                "rows": {},
                "cols": {"0": {"size": 220}},
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
                "rowNumber": len(HEADLINE) + 2,
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
        "formats": {"1": "0", "2": "#,##0.0"},
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
        },
        "pivotNextId": 3,
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
