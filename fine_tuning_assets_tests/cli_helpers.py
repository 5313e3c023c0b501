"""Running `fta` as a user does, in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FTA = str(Path(sys.executable).with_name("fta"))


def run(cwd: Path, *args: str, home: Path, read_only: Path | None = None, **env: str):
    """`fta args` with FTA_HOME=home; with ``read_only``, that folder is mounted read-only for the command
    (a private bind mount when running as root, who ignores file permissions; file modes otherwise)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    environ.update({"FTA_HOME": str(home), **env})
    command = [FTA, *args]
    if read_only is not None:
        if os.geteuid() == 0:
            if shutil.which("unshare") is None:
                pytest.skip("running as root without unshare: cannot make a folder read-only")
            command = [
                "unshare",
                "--mount",
                "sh",
                "-c",
                'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"',
                str(read_only),
                *command,
            ]
        else:
            for path in [read_only, *read_only.rglob("*")]:
                path.chmod(path.stat().st_mode & ~0o222)
    done = subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def refused(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr
    return done.stderr
