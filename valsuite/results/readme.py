"""Replace the generated section of a README between two marker comments, and nothing else."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_text

BEGIN = "<!-- valsuite:results:begin -->"
END = "<!-- valsuite:results:end -->"


def _marker_line(text: str, marker: str, path: Path) -> re.Match:
    """The line holding only the marker (a mention inside prose does not count)."""
    found = [m for m in re.finditer(rf"^[ \t]*({re.escape(marker)})[ \t]*\r?$", text, re.MULTILINE)]
    if len(found) != 1:
        what = "is missing" if not found else f"appears {len(found)} times"
        raise ValsuiteError(f"{path}: marker {marker} {what} (as a line of its own)",
                            hint=f"put exactly one {BEGIN} line and one {END} line where the results go")
    return found[0]


def splice(text: str, section: str, path: Path = Path("README")) -> str:
    """`text` with everything between the markers replaced by `section` (markers kept)."""
    begin, end = _marker_line(text, BEGIN, path), _marker_line(text, END, path)
    if end.start() < begin.start():
        raise ValsuiteError(f"{path}: {END} comes before {BEGIN}")
    body = section if section.endswith("\n") else section + "\n"
    return text[: begin.end(1)] + "\n" + body + text[end.start():]


def update_readme(path: str | Path, section: str) -> bool:
    """Write the section into the README atomically; returns False when it was already current."""
    path = Path(path)
    if not path.is_file():
        raise ValsuiteError(f"README not found: {path}", hint="pass --readme PATH of a file with the markers")
    # newline="" keeps the file's own line endings outside the markers byte for byte
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    updated = splice(text, section, path)
    if updated == text:
        return False
    mode = stat.S_IMODE(path.stat().st_mode)
    atomic_write_text(path, updated)
    os.chmod(path, mode)  # the temporary file's 0600 must not replace the README's own mode
    return True
