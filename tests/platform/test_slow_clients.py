"""Slow clients are cut off: the catalog as ``dpmesh catalog`` runs it (the APIs run on
the same server setup, ``dpmesh.runtime.http.serve``), with a 1 s request deadline.

A client that connects and sends nothing, or sends its headers and never finishes, is
disconnected; an honest request on the same server is still answered. The deadlines
the test waits on are generous (the machine may be loaded); the server's is 1 s.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.platform.test_demo import free_ports

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PATIENCE_S = 30.0


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[int]:
    (port,) = free_ports(1)
    env = {**os.environ, "DPMESH_HTTP_REQUEST_TIMEOUT_S": "1", "DPMESH_ENVIRONMENT": "local"}
    command = [
        sys.executable,
        "-m",
        "dpmesh",
        "catalog",
        "--port",
        str(port),
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}",
    ]
    log = (tmp_path / "catalog.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "catalog.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the catalog did not start"
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def closed_by_server(sock: socket.socket) -> float:
    """Seconds until the server closes ``sock`` (reads EOF), or fail after PATIENCE_S."""
    started = time.monotonic()
    sock.settimeout(PATIENCE_S)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        pytest.fail(f"the server kept a slow connection open for {PATIENCE_S:.0f} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_a_client_that_never_sends_a_request_is_disconnected(catalog: int) -> None:
    with socket.create_connection(("127.0.0.1", catalog)) as sock:
        closed_by_server(sock)


def test_a_client_that_never_finishes_its_headers_is_disconnected(catalog: int) -> None:
    with socket.create_connection(("127.0.0.1", catalog)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)
        sock.sendall(b"X-Slow: 1\r\n")
        closed_by_server(sock)


def test_a_body_that_never_arrives_is_cut_off_and_honest_clients_are_served(
    catalog: int,
) -> None:
    with socket.create_connection(("127.0.0.1", catalog)) as sock:
        sock.sendall(
            b"POST /api/v1/products/x/heartbeat HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        closed_by_server(sock)
    answer = httpx.get(f"http://127.0.0.1:{catalog}/healthz", timeout=10)
    assert answer.status_code == 200
