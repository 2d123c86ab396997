"""A cheap fingerprint of a directory's files, for caches keyed on them (the open stamp's
migrations, the root help's command modules): names, sizes and mtimes, no reading."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def files_fingerprint(directory: Path, suffix: str, salt: str = "") -> str:
    """Names, sizes and mtimes of the directory's ``suffix`` files, after ``salt``: it changes
    whenever one of them is edited, added or removed."""
    digest = hashlib.sha256(salt.encode())
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.endswith(suffix):
                st = entry.stat()
                digest.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()
