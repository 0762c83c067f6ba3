"""Cohort retention: customers grouped by the month of their first deal.

Pure pandas, no Odoo import, so it can be read, tested and benchmarked
alone. ``crm.kpi.cohort`` feeds it the won deals and stores its rows; the
heat-map renders them with ``heatmap_html``. With amounts, each cohort and
month of tenure also gets its revenue and the revenue so far ("value by
tenure"):

>>> import pandas as pd
>>> deals = pd.DataFrame({
...     "partner_id": [1, 1, 2, 3],
...     "deal_date": pd.to_datetime(["2025-01-05", "2025-03-01", "2025-01-20", "2025-02-02"]),
... })
>>> table = cohort_rows(deals, as_of="2025-03-31")
>>> table[["cohort_month", "months_since", "cohort_size", "buying_count"]].to_string(index=False)
'cohort_month  months_since  cohort_size  buying_count\\n  2025-01-01             0            2             2\\n  2025-01-01             1            2             0\\n  2025-01-01             2            2             1\\n  2025-02-01             0            1             1\\n  2025-02-01             1            1             0'

Deal days with their amount and count of purchases (a refund is not a
purchase, but its amount counts):

>>> days = deals.assign(amount=[100.0, 40.0, 60.0, 80.0], purchases=[1, 1, 1, 1])
>>> days.loc[len(days)] = [2, pd.Timestamp("2025-02-10"), -10.0, 0]
>>> table = cohort_rows(days, as_of="2025-03-31")
>>> table[table["cohort_month"].astype(str) == "2025-01-01"][
...     ["months_since", "buying_count", "revenue", "cumulative_revenue"]].to_numpy().tolist()
[[0.0, 2.0, 160.0, 160.0], [1.0, 0.0, -10.0, 150.0], [2.0, 1.0, 40.0, 190.0]]
"""

import html

import pandas as pd


def _month_index(dates):
    dates = pd.to_datetime(dates)
    return dates.dt.year * 12 + dates.dt.month - 1


def cohort_rows(deals, as_of, keys=()):
    """Cohort × months-since rows from won deals.

    ``deals``: one row per won deal (or per customer and deal day) with
    ``partner_id``, ``deal_date`` and the slice columns named in ``keys``
    (e.g. ``company_id``, ``user_id``; a customer belongs to the slice of
    its first deal). Optionally ``purchases`` (deals of the row that are
    not refunds; default: every row is a purchase) and ``amount`` (the
    row's revenue, refunds negative). Only a row with a purchase starts a
    cohort or makes a customer buying; amounts count from the cohort month
    on. ``as_of``: the last day taken into account; a cohort gets a row
    for every month from its first one up to ``as_of``'s month, with 0
    buyers where nobody bought.

    Returns columns ``*keys, cohort_month`` (first day of the month),
    ``months_since``, ``cohort_size`` (customers whose first deal is in the
    cohort month) and ``buying_count`` (of them, those with a deal in the
    month ``months_since`` after); with ``amount``, also ``revenue`` (the
    cohort's revenue that month) and ``cumulative_revenue`` (up to that
    month included): divided by ``cohort_size``, the value per customer by
    tenure, every customer of the cohort counted (lost ones too).
    """
    keys = list(keys)
    with_amount = "amount" in deals.columns
    columns = [*keys, "cohort_month", "months_since", "cohort_size", "buying_count"]
    columns += ["revenue", "cumulative_revenue"] if with_amount else []
    as_of_month = int(_month_index(pd.Series([pd.Timestamp(as_of)])).iloc[0])
    if deals.empty:
        return pd.DataFrame(columns=columns)
    extra = [c for c in ("purchases", "amount") if c in deals.columns]
    frame = deals[["partner_id", "deal_date", *keys, *extra]].copy()
    frame["month"] = _month_index(frame["deal_date"])
    frame = frame[frame["month"] <= as_of_month]
    every = frame
    if "purchases" in frame.columns:
        frame = frame[frame["purchases"] > 0]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    first = (
        frame.sort_values(["partner_id", "month"])
        .groupby("partner_id", as_index=False)
        .first()[["partner_id", "month", *keys]]
        .rename(columns={"month": "cohort"})
    )
    active = (
        frame[["partner_id", "month"]]
        .drop_duplicates()
        .merge(first[["partner_id", "cohort"]], on="partner_id")
    )
    active["months_since"] = active["month"] - active["cohort"]
    active = active.merge(first[["partner_id", *keys]], on="partner_id")
    buying = (
        active.groupby([*keys, "cohort", "months_since"], dropna=False)["partner_id"]
        .nunique()
        .rename("buying_count")
    )
    sizes = (
        first.groupby([*keys, "cohort"], dropna=False).size().rename("cohort_size").reset_index()
    )
    # every (slice, cohort) gets all its months up to as_of
    sizes["span"] = as_of_month - sizes["cohort"] + 1
    grid = sizes.loc[sizes.index.repeat(sizes["span"])].copy()
    grid["months_since"] = grid.groupby([*keys, "cohort"], dropna=False).cumcount()
    grid = grid.merge(
        buying.reset_index(), on=[*keys, "cohort", "months_since"], how="left"
    ).fillna({"buying_count": 0})
    grid["cohort_month"] = pd.to_datetime(
        {"year": grid["cohort"] // 12, "month": grid["cohort"] % 12 + 1, "day": 1}
    ).dt.date
    grid["buying_count"] = grid["buying_count"].astype(int)
    grid["cohort_size"] = grid["cohort_size"].astype(int)
    if with_amount:
        revenue = every[["partner_id", "month", "amount"]].merge(first, on="partner_id")
        revenue["months_since"] = revenue["month"] - revenue["cohort"]
        revenue = (
            revenue[revenue["months_since"] >= 0]
            .groupby([*keys, "cohort", "months_since"], dropna=False)["amount"]
            .sum()
            .rename("revenue")
            .reset_index()
        )
        grid = grid.merge(revenue, on=[*keys, "cohort", "months_since"], how="left")
        grid["revenue"] = grid["revenue"].fillna(0.0).astype(float)
        grid = grid.sort_values([*keys, "cohort", "months_since"])
        grid["cumulative_revenue"] = grid.groupby([*keys, "cohort"], dropna=False)[
            "revenue"
        ].cumsum()
    return grid[columns].sort_values([*keys, "cohort_month", "months_since"]).reset_index(drop=True)


def heatmap_html(cells, cohort_label="Cohort", size_label="Customers", empty="No data"):
    """An HTML table: one line per cohort, one column per month since, each
    cell the share still buying, shaded from white (0 %) to green (100 %).

    ``cells``: rows with ``cohort_month``, ``months_since``, ``cohort_size``
    and ``buying_count`` (several slices of the same cell are added up).
    """
    if cells is None or len(cells) == 0:
        return f"<p class='text-muted'>{html.escape(empty)}</p>"
    frame = pd.DataFrame(cells)
    grouped = frame.groupby(["cohort_month", "months_since"], as_index=False)[
        ["cohort_size", "buying_count"]
    ].sum()
    sizes = grouped[grouped["months_since"] == 0].set_index("cohort_month")["cohort_size"]
    shares = grouped.pivot(index="cohort_month", columns="months_since", values="buying_count")
    months = list(shares.columns)
    head = "".join(f"<th class='text-end'>{int(m)}</th>" for m in months)
    lines = [
        "<table class='table table-sm table-bordered o_crm_kpi_cohort_heatmap'>",
        f"<thead><tr><th>{html.escape(cohort_label)}</th>"
        f"<th class='text-end'>{html.escape(size_label)}</th>{head}</tr></thead><tbody>",
    ]
    for cohort, row in shares.iterrows():
        size = int(sizes.get(cohort, 0))
        tds = []
        for m in months:
            value = row[m]
            if pd.isna(value) or not size:
                tds.append("<td></td>")
                continue
            share = float(value) / size
            alpha = round(0.15 + 0.85 * share, 2) if share else 0
            tds.append(
                f"<td class='text-end' style='background-color: rgba(40, 167, 69, {alpha})'>"
                f"{share * 100:.0f}%</td>"
            )
        label = pd.Timestamp(cohort).strftime("%Y-%m")
        lines.append(f"<tr><th>{label}</th><td class='text-end'>{size}</td>{''.join(tds)}</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)
