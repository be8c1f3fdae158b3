"""``locmap serve``: the web app under gunicorn, as one command a council's IT can run.

Gunicorn runs the app in several worker processes (a crashed or hung worker is replaced,
and one slow request never blocks the others), each with a few threads, started from
Python through :class:`gunicorn.app.base.BaseApplication` so that there is no second
configuration to keep in step. Every setting has an option and an environment variable;
``GUNICORN_CMD_ARGS`` reaches any other gunicorn setting (``--certfile``,
``--max-requests``…). Precedence: an option or ``LOCMAP_WEB_*`` variable, then
``GUNICORN_CMD_ARGS``, then locmap's defaults. The access log goes to standard output in
the common log format followed by the request time in milliseconds.
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import click
from click.core import ParameterSource

__all__ = ["web_options", "serve_app", "exit_now", "plain_http_on_loopback", "start_child",
           "stop_child", "default_workers", "ACCESS_LOG_FORMAT"]

# Common log format plus the request time in milliseconds (%(M)s).
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(M)s'
MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    """Gunicorn's rule of thumb, 2 × cores + 1, capped: each worker holds the whole app in
    memory and its own pool of database connections.
    """
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


# Seconds an idle keep-alive connection stays open (gunicorn's default is 2). A gthread
# worker whose threads are all busy closes connections whose 2 s ran out even when the
# browser's next request is already on its way: under 50 users the load benchmark lost
# requests and a 57 MB upload to "connection reset" that way. Idle connections wait in the
# worker's poller, not in a thread, so a longer wait costs a file descriptor each.
KEEPALIVE_S = 15


def web_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The web server's options, shared by ``serve`` and ``demo``."""
    options = [
        click.option("--host", default="127.0.0.1", show_default=True, envvar="LOCMAP_WEB_HOST",
                     show_envvar=True, help="Address to listen on (0.0.0.0 for every one)."),
        click.option("--port", default=5000, show_default=True, envvar="LOCMAP_WEB_PORT",
                     show_envvar=True, type=click.IntRange(1, 65535)),
        click.option("--workers", default=default_workers(), show_default=True,
                     envvar="LOCMAP_WEB_WORKERS", show_envvar=True, type=click.IntRange(1, 64),
                     help="Worker processes (default 2 × cores + 1, at most "
                          f"{MAX_DEFAULT_WORKERS})."),
        click.option("--threads", default=4, show_default=True, envvar="LOCMAP_WEB_THREADS",
                     show_envvar=True, type=click.IntRange(1, 64),
                     help="Threads per worker process."),
        click.option("--timeout", default=120, show_default=True, envvar="LOCMAP_WEB_TIMEOUT",
                     show_envvar=True, type=click.IntRange(5, 3600),
                     help="Seconds a request may take before its worker is restarted "
                          "(PDF reports and exports are the slow ones)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_on_loopback(host: str, env: Mapping[str, str]) -> bool:
    """Whether browsers reach this server directly over http on this machine: a loopback
    address and no trusted proxy (one on the same machine would terminate TLS).
    """
    behind_proxy = env.get("LOCMAP_TRUSTED_PROXIES", "").strip() not in ("", "0")
    return _is_loopback(host) and not behind_proxy


def _server(app: Any, defaults: dict[str, Any], explicit: dict[str, Any]) -> Any:
    """Gunicorn driven from Python with locmap's app object and settings.

    Imported here, not at the top, so that the rest of the CLI works without gunicorn.
    """
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in defaults.items():
                self.cfg.set(key, value)
            env_args = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
            for key, value in vars(env_args).items():
                if value is not None and key != "args":
                    self.cfg.set(key.lower(), value)
            for key, value in explicit.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    server = Server(prog="locmap serve")
    server.application = app
    return server


def _post_fork(server: Any, worker: Any) -> None:
    # The app was built before the fork; a pooled connection must not be shared between
    # processes (SQLAlchemy docs, "Using Connection Pools with Multiprocessing").
    db = server.app.application.extensions.get("locmap_db")
    if db is not None:
        db.engine.dispose(close=False)


def _worker_exit(server: Any, worker: Any) -> None:
    """A worker that stops because it was told to skips the interpreter's teardown.

    Freeing the scientific stack's module state takes seconds of CPU per worker (3-7 s
    measured on the 2-core machine), which made Ctrl-C and every restart slow; there is
    nothing to save at that point once the pool is closed and the logs are flushed. A
    worker that failed (not booted, or still meant to be alive) exits the normal way so
    the master sees its exit code.
    """
    if not (worker.booted and not worker.alive):
        return
    db = server.app.application.extensions.get("locmap_db")
    if db is not None:
        db.engine.dispose()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def serve_app(host: str, port: int, workers: int, threads: int, timeout: int) -> int:
    """Build the app and serve it until SIGINT or SIGTERM; return gunicorn's exit status."""
    from locmap.db import WEB_APP_NAME
    from locmap.web import create_app

    # Who each connection is in pg_stat_activity (libpq's default application_name).
    os.environ.setdefault("PGAPPNAME", WEB_APP_NAME)
    if plain_http_on_loopback(host, os.environ):
        # A Secure cookie would never be sent back over plain http.
        os.environ.setdefault("LOCMAP_COOKIE_SECURE", "0")
    ctx = click.get_current_context()
    chosen = {"workers": workers, "threads": threads, "timeout": timeout}
    explicit: dict[str, Any] = {key: value for key, value in chosen.items()
                if ctx.get_parameter_source(key) in (ParameterSource.COMMANDLINE,
                                                     ParameterSource.ENVIRONMENT)}
    bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if any(ctx.get_parameter_source(key) in (ParameterSource.COMMANDLINE,
                                             ParameterSource.ENVIRONMENT)
           for key in ("host", "port")):
        explicit["bind"] = [bound]
    defaults: dict[str, Any] = {
        **chosen,
        "bind": [bound],
        "worker_class": "gthread",
        "keepalive": KEEPALIVE_S,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "preload_app": True,
        "post_fork": _post_fork,
        "worker_exit": _worker_exit,
        "proc_name": "locmap",
        # Gunicorn 25's control socket defaults to one path per user ($HOME/.gunicorn):
        # two instances on a machine would fight over it. Service managers use signals.
        "control_socket_disable": True,
    }
    app = create_app()
    server = _server(app, defaults, explicit)
    cfg = server.cfg
    binds = ", ".join(f"http://{b}/" for b in cfg.bind)
    click.echo(f"locmap is serving on {binds}  (workers: {cfg.workers}, threads: {cfg.threads},"
               f" timeout: {cfg.timeout} s, keep-alive: {cfg.keepalive} s; Ctrl-C stops it)")
    try:
        server.run()
    except SystemExit as stopped:  # the arbiter always ends with sys.exit
        return stopped.code if isinstance(stopped.code, int) else 1
    return 0


def exit_now(status: int) -> None:
    """End the process once the server has stopped, skipping the interpreter's seconds-long
    teardown of the scientific stack (see :func:`_worker_exit`).
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: if the parent is killed outright (SIGKILL), the child gets SIGTERM, not orphaned.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_child(*args: str) -> subprocess.Popen[bytes]:
    """Start ``locmap ARGS`` as a child in its own session: Ctrl-C reaches only this
    process, which then stops the child once, cleanly (see :func:`stop_child`).
    """
    return subprocess.Popen(
        [sys.executable, "-m", "locmap.cli", *args],
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )


def stop_child(child: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it has not gone within ``grace`` seconds."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
