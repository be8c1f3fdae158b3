"""Spatial and aggregate SQL that returns plain rows: the database does the heavy lifting.

Services call these functions after their permission checks; nothing here checks
permissions, audits or commits.
"""
