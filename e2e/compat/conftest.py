"""Starts one real hearth server for the whole compatibility session.

The server is the binary named by `HEARTH_BIN` (default `target/debug/hearth`, relative to
the repository root), run as `hearth serve --data-dir DIR --bind 127.0.0.1:PORT` on a fresh
temporary data directory, plus `--database-url $HEARTH_DATABASE_URL` when that is set.
Its output goes to `hearth.log` next to the data directory; the log's tail is attached to
every failing test's report and printed when the server does not come up.
"""

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import pytest
import requests
from qarnot.connection import Connection

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60.0
SHUTDOWN_GRACE_SECONDS = 15.0
LOG_TAIL_LINES = 80


@dataclasses.dataclass
class HearthServer:
    url: str
    owner_token: str
    operator_token: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def request(self, method: str, path: str, token: Optional[str], json: Any = None) -> requests.Response:
        """One raw HTTP call to hearth, for the routes the Qarnot SDK does not know."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.request(method, self.url + path, headers=headers, json=json, timeout=30)


# The running server, so that the report hook can attach its log to failures.
_server: Optional[HearthServer] = None
_failed_tests = 0
_kept_dir: Optional[Path] = None


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"(no log at {path}: {error})"
    return "\n".join(text.splitlines()[-lines:])


def _hearth_bin() -> Path:
    configured = os.environ.get("HEARTH_BIN")
    binary = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "hearth"
    if not binary.is_absolute():
        binary = Path.cwd() / binary
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.exit(
            f"hearth binary not found at {binary}: build it with `cargo build -p hearth-server` "
            "or point HEARTH_BIN at it",
            returncode=2,
        )
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_ready(process: subprocess.Popen, url: str, data_dir: Path, log_path: Path) -> None:
    """Polls /health until 200 and both token files exist; fails with the log's tail otherwise."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last_problem = f"the server exited with code {process.returncode}"
            break
        try:
            response = requests.get(url + "/health", timeout=2)
            if response.status_code != 200:
                last_problem = f"GET /health answered {response.status_code}: {response.text[:200]}"
            elif not ((data_dir / "owner.token").is_file() and (data_dir / "operator.token").is_file()):
                last_problem = "GET /health is 200 but owner.token/operator.token are not written"
            else:
                return
        except requests.RequestException as error:
            last_problem = f"GET /health failed: {error}"
        time.sleep(0.2)
    _stop(process)
    pytest.fail(
        f"hearth did not become ready ({last_problem}; timeout {STARTUP_TIMEOUT_SECONDS:.0f} s).\n"
        f"command: {' '.join(process.args)}\n"
        f"--- tail of {log_path} ---\n{_tail(log_path, LOG_TAIL_LINES)}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def hearth():
    """The real hearth server, started once for the session."""
    global _server, _kept_dir
    binary = _hearth_bin()
    root = Path(tempfile.mkdtemp(prefix="hearth-compat-"))
    data_dir = root / "data"
    data_dir.mkdir()
    log_path = root / "hearth.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(binary), "serve", "--data-dir", str(data_dir), "--bind", f"127.0.0.1:{port}"]
    database_url = os.environ.get("HEARTH_DATABASE_URL")
    if database_url:
        command += ["--database-url", database_url]

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=root
        )
    started = False
    try:
        _wait_until_ready(process, url, data_dir, log_path)
        started = True
        server = HearthServer(
            url=url,
            owner_token=(data_dir / "owner.token").read_text().strip(),
            operator_token=(data_dir / "operator.token").read_text().strip(),
            data_dir=data_dir,
            log_path=log_path,
            process=process,
        )
        _server = server
        yield server
    finally:
        _server = None
        _stop(process)
        if _failed_tests or not started:
            _kept_dir = root
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def conn(hearth):
    """A Qarnot SDK connection as the default tenant's owner (the constructor calls GET /settings)."""
    return Connection(cluster_url=hearth.url, client_token=hearth.owner_token)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    global _failed_tests
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _failed_tests += 1
        server = _server
        if server is not None:
            state = "running" if server.process.poll() is None else f"exited with code {server.process.returncode}"
            report.sections.append(
                (f"hearth server log (tail, server {state})", server.log_tail())
            )


def pytest_terminal_summary(terminalreporter):
    if _kept_dir is not None:
        terminalreporter.write_line(f"hearth data dir and log kept in {_kept_dir} (there were failures)")
