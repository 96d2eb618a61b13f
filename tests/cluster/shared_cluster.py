"""Sharing the one-node SLURM cluster of tests/cluster/slurm between users on this host.

The cluster listens on fixed ports, so there is one per machine. Every user (a pytest
session, the workflow benchmark) registers as ``STATE_DIR/users/<pid>`` under
``STATE_DIR/.users.lock`` and runs ``start.sh`` (idempotent); on release the last user out
runs ``stop.sh``. A cluster that was up with no registered user was started by hand: it is
reused and left running. No pytest here, so benchmarks can use it too.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SLURM_SCRIPTS = Path(__file__).resolve().parent / "slurm"
DEFAULT_STATE_DIR = "/tmp/neurovid-slurm"
DAEMONS = ("munged", "slurmctld", "slurmd")


def state_dir_from_env() -> Path:
    """``NEUROVID_SLURM_STATE_DIR`` or the default state folder."""
    return Path(os.environ.get("NEUROVID_SLURM_STATE_DIR", DEFAULT_STATE_DIR))


def daemon_alive(state_dir: Path, name: str) -> bool:
    """True when state_dir/<name>.pid names a live process called <name>."""
    try:
        pid = int((state_dir / f"{name}.pid").read_text().strip())
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except (OSError, ValueError):
        return False


def live_users(state_dir: Path) -> set[int]:
    """Pids of the registered users of the cluster (dead ones pruned)."""
    users: set[int] = set()
    for entry in (state_dir / "users").glob("*"):
        if entry.name.isdigit() and Path(f"/proc/{entry.name}").exists():
            users.add(int(entry.name))
        else:
            entry.unlink(missing_ok=True)
    return users


@contextmanager
def users_lock(state_dir: Path) -> Iterator[None]:
    """Serialise users' start/register and unregister/stop (not start.sh's own lock)."""
    (state_dir / "users").mkdir(parents=True, exist_ok=True)
    with open(state_dir / ".users.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def parse_exports(text: str) -> dict[str, str]:
    """Parse the ``export NAME=VALUE`` lines start.sh prints (values are %q-quoted)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"export ([A-Za-z_][A-Za-z0-9_]*)=(.*)", line.strip())
        if match:
            # printf %q of a plain path only escapes shell specials with backslashes
            out[match.group(1)] = re.sub(r"\\(.)", r"\1", match.group(2))
    return out


class ClusterUser:
    """One registered user of the shared cluster: ``start()``, then always ``release()``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.me = state_dir / "users" / str(os.getpid())
        self.started_by_hand = False
        self.setup_seconds = 0.0

    def start(self, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Register and run start.sh (a first run apt-installs slurm-wlm and munge).

        Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds (still registered:
        call ``release``).
        """
        with users_lock(self.state_dir):
            self.started_by_hand = not live_users(self.state_dir) and all(
                daemon_alive(self.state_dir, name) for name in DAEMONS
            )
            self.me.touch()
            begin = time.monotonic()
            try:
                return subprocess.run(
                    [str(SLURM_SCRIPTS / "start.sh"), str(self.state_dir)],
                    capture_output=True, text=True, timeout=timeout,
                )  # fmt: skip
            finally:
                self.setup_seconds = time.monotonic() - begin

    def release(self) -> subprocess.CompletedProcess[str] | None:
        """Unregister; stop the cluster when no one else uses it (unless up by hand)."""
        with users_lock(self.state_dir):
            self.me.unlink(missing_ok=True)
            if self.started_by_hand or live_users(self.state_dir):
                return None
            return subprocess.run(
                [str(SLURM_SCRIPTS / "stop.sh"), str(self.state_dir)],
                capture_output=True, text=True, timeout=180,
            )  # fmt: skip
