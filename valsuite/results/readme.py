"""Replace the generated section of a README between two marker comments, and nothing else."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_text

BEGIN = "<!-- valsuite:results:begin -->"
END = "<!-- valsuite:results:end -->"


def _marker_offset(text: str, marker: str, path: Path) -> int:
    count = text.count(marker)
    if count != 1:
        what = "is missing" if count == 0 else f"appears {count} times"
        raise ValsuiteError(f"{path}: marker {marker} {what}",
                            hint=f"put exactly one {BEGIN} line and one {END} line where the results go")
    return text.index(marker)


def splice(text: str, section: str, path: Path = Path("README")) -> str:
    """`text` with everything between the markers replaced by `section` (markers kept)."""
    start, end = _marker_offset(text, BEGIN, path), _marker_offset(text, END, path)
    if end < start:
        raise ValsuiteError(f"{path}: {END} comes before {BEGIN}")
    body = section if section.endswith("\n") else section + "\n"
    return text[: start + len(BEGIN)] + "\n" + body + text[end:]


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
