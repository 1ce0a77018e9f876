"""Argument parsing for the top-level scripts; each script is parse -> call valsuite."""
