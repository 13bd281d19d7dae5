"""Start, watch and stop the processes of a local mesh (the demo), leaving no orphan.

Each service runs in its own session (process group), so one ``killpg`` reaches the
service and every child it started, and Ctrl-C in the terminal reaches only the
supervisor, which then stops services in reverse start order: consumers before the
producers and the broker they need.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx


class ServiceFailed(RuntimeError):
    """A service exited or never became healthy; the message carries its log tail."""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """How to run one service and how to know it is ready.

    ``health_url`` is polled until it answers 2xx; without one, a service counts as
    ready once it has stayed up for ``settle_s`` seconds.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None
    ready_timeout_s: float = 60.0
    settle_s: float = 1.0


@dataclass(slots=True)
class RunningService:
    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def dpmesh_command(*args: str) -> list[str]:
    """Run a dpmesh CLI command with the same interpreter as the supervisor."""
    return [sys.executable, "-m", "dpmesh", *args]


class Supervisor:
    def __init__(self, log_dir: Path, *, base_env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._base_env = dict(base_env if base_env is not None else os.environ)
        self.services: list[RunningService] = []

    def start(self, spec: ServiceSpec) -> RunningService:
        log_path = self.log_dir / f"{spec.name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            list(spec.argv),
            env={**self._base_env, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        service = RunningService(spec, process, log_path, log_file)
        self.services.append(service)
        return service

    def wait_ready(
        self, service: RunningService, on_wait: Callable[[float], None] | None = None
    ) -> float:
        """Block until ``service`` is ready; return how long it took."""
        spec = service.spec
        started = time.monotonic()
        deadline = started + spec.ready_timeout_s
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                self._raise_if_exited(service)
                if spec.health_url is None:
                    if time.monotonic() - started >= spec.settle_s:
                        return time.monotonic() - started
                elif _answers(client, spec.health_url):
                    return time.monotonic() - started
                if on_wait is not None:
                    on_wait(time.monotonic() - started)
                time.sleep(0.1)
        raise ServiceFailed(
            f"{spec.name} was not ready after {spec.ready_timeout_s:.0f} s "
            f"(log: {service.log_path}):\n{service.log_tail()}"
        )

    def check(self) -> None:
        """Raise if any service has exited since it started."""
        for service in self.services:
            self._raise_if_exited(service)

    def _raise_if_exited(self, service: RunningService) -> None:
        code = service.process.poll()
        if code is not None:
            raise ServiceFailed(
                f"{service.spec.name} exited with code {code} "
                f"(log: {service.log_path}):\n{service.log_tail()}"
            )

    def stop_all(self, grace_s: float = 10.0) -> None:
        """SIGTERM each service group in reverse order, then SIGKILL what is left."""
        for service in reversed(self.services):
            _signal_group(service.process, signal.SIGTERM)
            try:
                service.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(service.process, signal.SIGKILL)
                service.process.wait(timeout=5)
            # Children that outlived their parent in the same group.
            _signal_group(service.process, signal.SIGKILL)
            service.log_file.close()
        self.services.clear()


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).is_success
    except httpx.HTTPError:
        return False


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
