#!/usr/bin/env python3
"""Synthetic CRM data for an existing Odoo 18 database, loaded with binary COPY.

What it generates
-----------------
* ``res.partner`` -- N partners: ~25 % companies (``is_company``), the rest
  contacts of those companies (``parent_id``, address, language, salesperson,
  industry and ``company_id`` inherited from the company, the way Odoo's
  commercial-field sync does) or private individuals. Every stored field the
  ORM maintains is filled consistently: ``commercial_partner_id`` (the company,
  or the partner itself), ``complete_name`` ("Company, Contact"),
  ``commercial_company_name``, ``email_normalized``, ``phone_sanitized`` (E.164
  of the mobile, else the phone, as phone_validation computes it; the numbers
  are valid for ``phonenumbers``), ``partner_share``, ``type='contact'``,
  ``lang`` (only languages active in the database), ``tz``, ``active`` (a few
  archived), ``create/write_date/uid``, ``calendar_last_notif_ack`` and, when
  the ``account`` module added them, ``customer_rank``/``supplier_rank``.
  ``display_name`` is not stored in Odoo 18. ``company_id`` is NULL (shared)
  for ~70 % of the customers, the customer's company otherwise.
* ``crm.lead`` -- M opportunities (``type='opportunity'``) plus ``--leads``
  leads (``type='lead'``, default 5 % of M), won, lost and open, ids in
  creation order. Won: a won stage (``crm_stage.is_won``), probability 100,
  ``date_closed``. Lost: ``active=False``, probability 0, ``lost_reason_id``
  (85 %) from the existing ``crm.lost.reason`` rows, ``date_closed``, stage
  where it was lost. Open: a pipeline stage and a stage-based probability.
  The partner-derived stored computes (``contact_name``, ``partner_name``,
  ``function``, ``email_from``, ``email_normalized``, ``email_domain_criterion``,
  ``email_state``, ``phone``, ``phone_sanitized``, ``phone_state``, ``mobile``,
  ``website``, address, ``country_id``, ``lang_id``) are copied from the partner
  as the ORM computes them; ``prorated_revenue``, ``automated_probability``,
  ``day_open``/``day_close``, ``date_open``, ``date_last_stage_update`` and the
  recurring-revenue columns (0) likewise. ``company_currency``, ``won_status``,
  ``kanban_state``, ``display_name`` are not stored in 18.0.
* ``--interactions K`` -- ``crm.interaction`` rows (crm_contact_center; exits
  with "crm_contact_center not installed" when the table is missing): two
  thirds on the generated opportunities and leads that have a partner (their
  contact, dated within the deal's life, the deal's salesperson), the rest on
  customers and contacts alone (heavy-tailed activity). Channels (the shared
  active ``crm_interaction_channel`` rows: phone 34 %, e-mail 30 %, chat,
  web, SMS, IP phone, meetings, social, survey), direction per channel,
  states (done; 8 % of inbound calls missed; half of the last week's inbound
  requests still new/assigned/in progress), durations (log-normal calls,
  meetings in half hours), ``commercial_partner_id``, agent and team,
  ``assign_date``/``done_date``, ``sla_deadline`` (inbound: date + the
  channel's response time), ``is_overdue``/``is_escalated`` (open past the
  deadline, as the SLA cron leaves them), ``rating_last_value`` 0. Half carry
  ``source_key = 'bench.generate'`` and ``external_id`` = the row id (unique
  by construction, so the UNIQUE(source_key, external_id) constraint holds
  across runs); the others are manual entries (both NULL). Loaded in the
  transaction of the leads, with the same index handling.

Behavioural model (opportunities)
---------------------------------
The customers are the commercial entities (companies and individuals). Each
one is "born" at its partner's ``create_date`` and, like the BG/NBD story
(Fader, Hardie & Lee 2005), gets
  * a latent opportunity rate  lambda ~ Gamma(shape 0.8) * s   (per year),
  * a win probability          q      ~ Beta(2.0, 2.5),
  * a dropout probability      p      ~ Beta(1.2, 3.5).
Its first opportunity comes at birth (90 % of customers); further ones follow
a Poisson process of rate lambda until the end date. Each opportunity is won
with probability q and closes after a log-normal sales cycle (median 24 days);
after each *won* deal the customer becomes inactive with probability p and
creates no more opportunities. The won deals thus follow a BG/NBD process with
rate lambda*q: some customers buy repeatedly, many once, some stop. Deals whose
cycle ends after ``--end-date`` are still open. The rate scale s is calibrated
on a subsample so that the simulation yields at least M opportunities, and a
uniform thinning keeps exactly M. Deal sizes are log-normal around a
per-customer size (companies larger), rounded to 100, 2 % are zero. A deal's
contact is the individual itself, or one of the company's contacts (70 %) or
the company; its salesperson is the customer's one (85 %) among the existing
internal users, with the team from ``crm.team.member`` (or the company's
first active team). Leads: half from existing partners, half anonymous
prospects; older ones are mostly lost. Creation times fall on working days and
hours.

How it loads
------------
Everything is generated with numpy and sent with ``COPY ... FROM STDIN (FORMAT
binary)``. ``_db.encode_rows`` builds the tuples without a Python loop per row:
fixed-width columns are big-endian numpy matrices grouped by NULL pattern, text
columns are object arrays of pre-encoded values (per-partner strings built
with vectorised object-array concatenation; the ~17 lead columns derived from
the partner are one pre-encoded blob per partner), and the rows are joined by
``bytes.join`` in C. Chunks of ``--chunk`` rows are produced by the main thread
while a second thread streams the previous one to the server; the opportunity
model is simulated in a third thread while the partners are copied. Ids come
from Odoo's own sequences (``_db.reserve_ids``: nextval/setval bump under a
table lock), in creation-date order, so later ORM creates do not collide.

Transactions. ``--index-jobs 1``: ONE transaction for everything (partners,
leads, index rebuild); any error leaves the database untouched (the reserved
ids are just skipped). ``--index-jobs J>1`` (default 2): one transaction per
table (partners, then leads; an error while loading the leads keeps the
committed partners), and the dropped indexes are rebuilt after each COMMIT by J
connections in parallel (CREATE INDEX on one table can run concurrently; the
partner indexes are rebuilt while the leads are copied).

Indexes. ``--index-mode rebuild`` (``auto`` picks it when the load is at least
a fifth of the table) drops the non-unique, non-constraint indexes of a table
before its COPY and recreates them from their ``pg_get_indexdef``; partial
indexes ``WHERE col IS NOT NULL`` on a column the load leaves NULL are kept.
With J>1 the definitions are journaled in table ``bench_generate_index_journal``
in the transaction that drops them; each rebuilt index deletes its row; the
rebuild runs in a ``finally``, and what a killed run left is restored at the
start of the next run or by ``--restore-indexes`` (``odoo -u crm`` would
recreate them too). The primary keys stay.

Foreign keys. As superuser the load runs with ``session_replication_role =
replica``, so the per-row foreign-key triggers do not fire (they would cost
more than the COPY). Integrity holds by construction: every reference is an id
read and locked FOR KEY SHARE in the same transaction, or an id the run
inserted; ``--verify-fk`` (default: loads under 200k rows) re-checks every
filled foreign key with SQL. Without superuser rights, or with user triggers on
a table, the triggers stay on. Sessions use ``synchronous_commit=off`` and
``--maintenance-work-mem``; the loaded tables are ANALYZEd at the end.

Usage
-----
    .venv/bin/python bench/generate.py -d gen_dev                     # 1000 / 5000
    .venv/bin/python bench/generate.py -d big --partners 1000000 --opportunities 5000000
    .venv/bin/python bench/generate.py -d mc --companies 3 --years 5 --end-date 2024-12-31 --seed 7
    PGHOST=/var/run/postgresql .venv/bin/python bench/generate.py -d db --dsn "user=odoo"
    .venv/bin/python bench/generate.py -d db --index-jobs 1          # single transaction
    .venv/bin/python bench/generate.py -d db --restore-indexes        # after a killed run

Measured (2-core VM shared with other jobs, load average 3-4; PostgreSQL 15,
shared_buffers 128MB; fresh database with crm and no demo data)
--------------------------------------------------------------------------------
    --partners 1000 --opportunities 5000 (+250 leads)           0.5-0.9 s
    --partners 100000 --opportunities 500000 --index-jobs 1     31 s
    --partners 1000000 --opportunities 5000000 (+250k leads)    289 s:
        partner model 6 s, partner COPY 23 s (381 MB), lead COPY 57 s
        (2.9 GB; starts after the opportunity model, ~20 s of which were not
        hidden behind the partner COPY), index rebuild 182 s (33 indexes,
        2 jobs; the two email trigram GIN indexes take ~60 s each), ANALYZE 3 s.
        CPU: generator 40 s, server 246 s (COPY 29 s, index builds 217 s).
The index rebuild is the bulk: Odoo 18 puts seven trigram GIN indexes on
crm_lead (name, contact_name, partner_name, email_from, email_normalized,
phone and mobile); see bench/README.md.
"""

import sys

try:  # imported as bench.generate
    from .crmgen.cli import main
except ImportError:  # run as a script: bench/ is on the path
    from crmgen.cli import main

if __name__ == "__main__":
    sys.exit(main())
