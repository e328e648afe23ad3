"""Prefect's environment for the `prefsynth` CLI: quiet defaults, and a temporary server that dies with the CLI.

`apply_defaults()` runs before Prefect is imported (cli/app.py). Each default applies only where the user
has not set that setting — in the environment, the active profile of `profiles.toml`, `prefect.toml`,
`pyproject.toml` `[tool.prefect]` or `.env` — so a user's own choice always wins:

- logs at WARNING (the CLI shows its own progress), and 90 s for the temporary server to start (a first run also
  creates its database, which took longer than Prefect's 20 s on a loaded 2-core machine);
- no analytics: the temporary server's telemetry heartbeat (which on a fresh Prefect home hits `database is
  locked` and logs two chained tracebacks, and without network logs "Failed to send telemetry") and Prefect's
  SDK usage events (`DO_NOT_TRACK`);
- no automations (the `triggers` and `actions` services, both under the triggers setting): prefsynth defines none.

`guard_temporary_server()` (after Prefect is imported) changes how Prefect starts its temporary server
(`SubprocessASGIServer`, a `python -m uvicorn … create_app` child): the same uvicorn command runs under
`python -m prefsynth.prefect_env PARENT_PID …`, which exits when its parent process is gone (SIGKILL of the CLI
included), and in its own session, so a Ctrl-C at the terminal reaches the CLI only and the CLI can finish its
Prefect calls before it stops the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, Mapping, MutableMapping

# (environment variable, its path in prefect.toml, prefsynth's default)
DEFAULTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("PREFECT_LOGGING_LEVEL", ("logging", "level"), "WARNING"),
    ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", ("server", "ephemeral", "startup_timeout_seconds"), "90"),
    ("PREFECT_SERVER_ANALYTICS_ENABLED", ("server", "analytics_enabled"), "false"),
    # automations: this one setting turns off both the triggers and the actions services
    ("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", ("server", "services", "triggers", "enabled"), "false"),
)
_POLL_S = 0.25  # how often the server checks that its parent is alive
_STOP_GRACE_S = 5.0  # after SIGTERM, how long uvicorn may take to shut down before the process just exits


def apply_defaults(environ: MutableMapping[str, str] = os.environ, cwd: Path | None = None) -> dict[str, str]:
    """Set prefsynth's Prefect defaults in `environ` where the user has set nothing; returns what was set."""
    cwd = cwd or Path.cwd()
    applied = {}
    for name, toml_path, value in DEFAULTS:
        if not _user_sets(name, toml_path, environ, cwd):
            environ[name] = applied[name] = value
    if "DO_NOT_TRACK" not in environ:
        environ["DO_NOT_TRACK"] = applied["DO_NOT_TRACK"] = "1"
    return applied


def _user_sets(name: str, toml_path: tuple[str, ...], environ: Mapping[str, str], cwd: Path) -> bool:
    if name in environ or name in _active_profile(environ) or name in _dotenv(cwd / ".env"):
        return True
    return _has_path(_toml(cwd / "prefect.toml"), toml_path) or _has_path(
        _toml(cwd / "pyproject.toml").get("tool", {}).get("prefect", {}), toml_path)


def _active_profile(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings of the active Prefect profile (`$PREFECT_PROFILE`, else the file's `active`, else ephemeral)."""
    home = Path(environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    profiles = _toml(Path(environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser())
    active = environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    return profiles.get("profiles", {}).get(active, {})


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}  # absent or unreadable: Prefect itself reports a broken settings file


def _dotenv(path: Path) -> set[str]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.split("=", 1)[0].strip().removeprefix("export ") for line in lines if "=" in line}


def _has_path(table: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(table, Mapping) or key not in table:
            return False
        table = table[key]
    return True


# ------------------------------------------------------------------------- the temporary server's lifetime


class _GuardedSubprocess:
    """Stands in for the `subprocess` module inside prefect.server.api.server: only `Popen` of the server
    command changes, everything else is the real module."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(args, *rest, **kwargs):  # noqa: N802 — the name Prefect calls
        if _is_server_command(args):
            args = [args[0], "-m", __name__, str(os.getpid()), *args[3:]]
            kwargs["start_new_session"] = True
        return subprocess.Popen(args, *rest, **kwargs)


def _is_server_command(args: Any) -> bool:
    return (isinstance(args, list) and args[1:3] == ["-m", "uvicorn"]
            and "prefect.server.api.server:create_app" in args)


def guard_temporary_server() -> None:
    """Make every temporary Prefect server this process starts exit when this process is gone (idempotent).

    With PREFECT_API_URL set, Prefect starts no temporary server: nothing to do, and the server module (seconds
    to import) is not imported."""
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:
        return
    from prefect.server.api import server as prefect_server

    if not isinstance(prefect_server.subprocess, _GuardedSubprocess):
        prefect_server.subprocess = _GuardedSubprocess()


def stop_temporary_servers() -> None:
    """Ask every temporary server this process started to stop (SIGTERM), without waiting for it."""
    module = sys.modules.get("prefect.server.api.server")
    if module is None:
        return  # never imported: no temporary server was started
    for server in list(module.SubprocessASGIServer._instances.values()):
        if server.server_process is not None and server.server_process.poll() is None:
            server.server_process.terminate()


def _exit_with_parent(parent: int) -> None:
    """In the server process: once the parent is gone (we are re-parented), stop uvicorn, then exit anyway."""
    while os.getppid() == parent:
        time.sleep(_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful shutdown
    time.sleep(_STOP_GRACE_S)
    os._exit(1)


def _serve(argv: list[str]) -> None:
    """`python -m prefsynth.prefect_env PARENT_PID UVICORN_ARGS...`: uvicorn, watched."""
    import runpy

    parent = int(argv[0])
    threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()
    sys.argv = ["uvicorn", *argv[1:]]
    runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _serve(sys.argv[1:])
