"""Importers and exporters: demo data, police CSV, GIS files, OpenStreetMap, reports."""
