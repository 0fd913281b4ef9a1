"""Starts one real ``hearth serve`` for the test session, on SQLite.

The binary is ``HEARTH_BIN`` (default ``target/debug/hearth`` of the repository), run on a
fresh temporary data directory and a free port. Its output goes to ``hearth.log`` beside
the data directory; the log's tail is attached to every failing test's report, and the
directory is kept (and named at the end) when something failed.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import hearth

REPO_ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_SECONDS = 60.0
SHUTDOWN_GRACE_SECONDS = 15.0
LOG_TAIL_LINES = 80
#: A tag and name prefix unique to this session.
RUN = uuid.uuid4().hex[:8]


@dataclasses.dataclass
class HearthServer:
    url: str
    owner_token: str = dataclasses.field(repr=False)
    operator_token: str = dataclasses.field(repr=False)
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = dataclasses.field(repr=False)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        text = _tail(self.log_path, lines)
        for secret in (self.owner_token, self.operator_token):
            text = text.replace(secret, "<token>")
        return text

    def raw(self, method: str, path: str, token: str | None, json: Any = None) -> httpx.Response:
        """One plain HTTP call, for what the SDK does not cover (operator routes)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.request(method, self.url + path, headers=headers, json=json, timeout=30)

    def client(self, token: str | None = None, **kwargs: Any) -> hearth.Client:
        return hearth.Client(self.url, token or self.owner_token, **kwargs)


_server: HearthServer | None = None
_failed = 0
_kept_dir: Path | None = None
#: Lines the tests want printed in the summary (measured figures).
REPORT: list[str] = []


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_ready(
    process: subprocess.Popen[bytes], url: str, data_dir: Path, log_path: Path
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last_problem = f"the server exited with code {process.returncode}"
            break
        try:
            response = httpx.get(url + "/health", timeout=2)
            if response.status_code != 200:
                last_problem = f"GET /health answered {response.status_code}"
            elif not (
                (data_dir / "owner.token").is_file() and (data_dir / "operator.token").is_file()
            ):
                last_problem = "GET /health is 200 but the token files are not written"
            else:
                return
        except httpx.HTTPError as error:
            last_problem = f"GET /health failed: {error}"
        time.sleep(0.1)
    _stop(process)
    pytest.fail(
        f"hearth did not become ready ({last_problem}).\n"
        f"command: {' '.join(map(str, process.args))}\n"  # type: ignore[arg-type]
        f"--- tail of {log_path} ---\n{_tail(log_path, LOG_TAIL_LINES)}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def server() -> Iterator[HearthServer]:
    """The real hearth server, started once for the session."""
    global _server, _kept_dir
    binary = _hearth_bin()
    root = Path(tempfile.mkdtemp(prefix="hearth-sdk-py-"))
    data_dir = root / "data"
    data_dir.mkdir()
    log_path = root / "hearth.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(binary), "serve", "--data-dir", str(data_dir), "--bind", f"127.0.0.1:{port}"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=root
        )
    started = False
    try:
        _wait_until_ready(process, url, data_dir, log_path)
        started = True
        _server = HearthServer(
            url=url,
            owner_token=(data_dir / "owner.token").read_text().strip(),
            operator_token=(data_dir / "operator.token").read_text().strip(),
            data_dir=data_dir,
            log_path=log_path,
            process=process,
        )
        yield _server
    finally:
        _server = None
        _stop(process)
        if _failed or not started:
            _kept_dir = root
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def client(server: HearthServer) -> Iterator[hearth.Client]:
    """The SDK's blocking client as the default tenant's owner."""
    with server.client() as c:
        yield c


@pytest.fixture(scope="session")
def pool(client: hearth.Client) -> Iterator[hearth.Pool]:
    """A running pool of 2 docker-batch slots, shared by the tests that run work."""
    p = client.pools.create(
        f"{RUN}-work",
        profile="docker-batch",
        instance_count=2,
        tags=[RUN],
        wait_ready=True,
        ready_timeout=60,
    )
    yield p
    try:
        if client.pools.get(p).state not in ("Closing", "Closed"):
            client.pools.close(p)
    except hearth.HearthError:
        pass


@pytest.fixture(scope="session")
def parked_pool(client: hearth.Client) -> Iterator[hearth.Pool]:
    """A pool of 0 slots: its tasks stay queued."""
    p = client.pools.create(f"{RUN}-parked", profile="docker-batch", instance_count=0, tags=[RUN])
    yield p
    try:
        client.pools.close(p)
    except hearth.HearthError:
        pass


@pytest.fixture
def report() -> list[str]:
    """Append lines to print in the session's summary."""
    return REPORT


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    global _failed
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        _failed += 1
        server = _server
        if server is not None:
            state = (
                "running"
                if server.process.poll() is None
                else f"exited with code {server.process.returncode}"
            )
            report.sections.append((f"hearth server log (tail, server {state})", server.log_tail()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT:
        terminalreporter.section("measured")
        for line in REPORT:
            terminalreporter.write_line(line)
    if _kept_dir is not None:
        terminalreporter.write_line(
            f"hearth data dir and log kept in {_kept_dir} (there were failures)"
        )
