"""bench/generate.py as a package: one module per job (see bench/README.md).

The command line is unchanged: ``python bench/generate.py ...`` runs
``crmgen.cli.main``.
"""
