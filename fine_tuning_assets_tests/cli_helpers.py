"""Running `fta` as a user does: its command line (argument parsing, the handler, what it prints on stdout and
stderr, its exit code) in this process, like Click's ``CliRunner``, or in a subprocess of its own.

In this process, the libraries a command imports (PyTorch, sentence-transformers: about 8 seconds on 2 cores)
are imported once for the whole suite, not once per command; the environment and working folder are the
command's while it runs and restored after. A subprocess is used where the process itself is what is tested:
the demo as a user runs it, a read-only mount, a killed or concurrent process.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

FTA = str(Path(sys.executable).with_name("fta"))


def run_in_process(
    cwd: Path, args: tuple[str, ...], environ: Mapping[str, str]
) -> subprocess.CompletedProcess:
    """``fta args`` through :func:`fine_tuning_assets.cli.main` with ``environ`` as the whole environment and
    ``cwd`` as the working folder; stdout, stderr and the exit code as a subprocess would give them."""
    from fine_tuning_assets.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_environ, saved_cwd = dict(os.environ), os.getcwd()
    try:
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors (2), --help (0)
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
    return subprocess.CompletedProcess([FTA, *args], code, out.getvalue(), err.getvalue())


def command_environment(home: Path, **env: str) -> dict[str, str]:
    """This environment without the project's variables, with FTA_HOME=home and ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    environ.update({"FTA_HOME": str(home), **env})
    return environ


def run(cwd: Path, *args: str, home: Path, read_only: Path | None = None, **env: str):
    """`fta args` with FTA_HOME=home, in this process; with ``read_only``, in a subprocess for which that folder
    is mounted read-only (a private bind mount when running as root, who ignores file permissions; file modes
    otherwise)."""
    environ = command_environment(home, **env)
    if read_only is None:
        return run_in_process(cwd, args, environ)
    command = [FTA, *args]
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
