"""Run `sessionlens serve` as a real process for end-to-end tests (loopback only)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(
        self, env: dict[str, str], port: int, log_path: Path, scheme: str = "http"
    ) -> None:
        self.env = env
        self.port = port
        self.base_url = f"{scheme}://127.0.0.1:{port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sessionlens", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                answer = httpx.get(f"{self.base_url}/healthz", timeout=1, verify=False)
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def server_env(data_dir: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
    env.update(
        {
            "SESSIONLENS_DATA_DIR": str(data_dir),
            "SESSIONLENS_DATABASE_URL": database_url,
            "SESSIONLENS_BASE_URL": f"http://127.0.0.1:{port}",
            "SESSIONLENS_ADMIN_EMAIL": "admin@example.com",
            "SESSIONLENS_ADMIN_PASSWORD": "admin password 123",
            **extra,
        }
    )
    return env


@contextmanager
def running_server(data_dir: Path, database_url: str, **extra: str) -> Iterator[Server]:
    port = free_port()
    server = Server(
        server_env(data_dir, database_url, port, **extra),
        port,
        data_dir.parent / f"server-{port}.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
