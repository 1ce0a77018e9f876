"""Run records: one JSON schema from which every table, CSV and plot is rendered."""
