"""Use cases: permission check, validation, read/write, audit — one transaction each.

The web and the CLI reach data only through these modules (see setup.cfg's import
contracts); they call queries, models, io and the pure analysis packages below them.
"""
