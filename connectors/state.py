"""Small JSON state files a connector keeps between runs (rotated OAuth tokens, known ids).

They live under the channel's ``state_dir`` (inside the data directory, outside the raw
zone). Writes are atomic (a temporary file in the same folder, then ``os.replace``) and the
file is created with mode 0600 from the start, so a token is never readable by others, not
even for a moment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MODE = 0o600


class StateFile:
    """One JSON object on disk: ``read`` (empty when absent or unreadable) and atomic ``write``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        """The stored object; ``{}`` when the file is missing or not a JSON object."""
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def write(self, value: dict[str, Any]) -> None:
        """Replace the file with ``value``, atomically, readable by the owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(value, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, MODE)  # O_CREAT's mode is masked by the umask; be explicit
            os.replace(temp, self.path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
