"""18.0.1.5.0 (issue 19, part 4): the queue priority of every interaction.

``priority`` is a stored compute: a new column would make the upgrade compute
it in Python for every interaction ever logged. History is normal, so the
column is created with that value (a PostgreSQL "fast default": no table
rewrite) before the ORM sees the field. Deadlines are not recomputed: they
keep the target they were set with (a channel's new targets and a team's
working hours apply to open requests when they change).
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("ALTER TABLE crm_interaction ADD COLUMN IF NOT EXISTS priority varchar DEFAULT '0'")
    cr.execute("ALTER TABLE crm_interaction ALTER COLUMN priority DROP DEFAULT")
