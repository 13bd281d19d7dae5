"""``dpmesh demo`` as a user runs it: ``python -m dpmesh demo`` in a subprocess, on free
ports and a temporary state folder, watched over HTTP and through ``/proc``.

One full run carries the scenario checks and ends with Ctrl-C (SIGINT to the demo's
process group, as a terminal sends it), which is how the demo is usually stopped; a
second, short run without the simulator ends by ``--duration`` on its own. After each,
no process the demo started may be left: every descendant seen while it ran (broker,
catalog, carrier, API, relay, worker, simulator) and every member of their process
groups is gone.

The helpers here (:func:`running_demo`, :class:`Demo`) also serve the dashboard's
browser test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from dpmesh.commands.status import slo_status

REPO = Path(__file__).resolve().parents[2]
PRODUCTS = {
    "urn:dpmesh:supply_chain:inventory-levels",
    "urn:dpmesh:supply_chain:supplier-performance",
    "urn:dpmesh:supply_chain:alerts",
    "urn:dpmesh:supply_chain:delivery-timelines",
}
#: What each process the demo starts has in its command line.
SERVICES = {
    "broker": "tansu",
    "catalog": "dpmesh\0catalog",
    "carrier": "fake\0supply_chain\0carrier",
    "api": "supply_chain\0api",
    "relay": "supply_chain\0relay",
    "worker": "supply_chain\0worker",
    "simulator": "simulate\0supply_chain",
}
#: The catalog judges each SLI of a product's last heartbeat against its contract's
#: objective ("unknown" until the worker's first heartbeat arrives).
SLO_OK = ("met",)
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 40.0

T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on, distinct (all held open until every one is chosen)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    pgrp: int
    state: str
    start_time: int
    cmdline: str


def read_proc(pid: int) -> Proc | None:
    """A process from ``/proc/<pid>``; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may contain spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        state=fields[0],
        start_time=int(fields[19]),
        cmdline=cmdline,
    )


def all_processes() -> list[Proc]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            proc = read_proc(int(entry.name))
            if proc is not None:
                found.append(proc)
    return found


def alive(proc: Proc) -> bool:
    """The same process (not a new one with a reused pid) still exists and is not a zombie."""
    now = read_proc(proc.pid)
    return now is not None and now.start_time == proc.start_time and now.state != "Z"


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    catalog_url: str
    api_url: str
    state_dir: Path
    output_path: Path
    seen: dict[int, Proc] = field(default_factory=dict)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def logs(self, lines: int = 15) -> str:
        parts = [f"--- demo output\n{self.output()}"]
        for log in sorted((self.state_dir / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def record_descendants(self) -> None:
        """Remember every process below the demo, as ``/proc`` shows it now."""
        processes = all_processes()
        children: dict[int, list[Proc]] = {}
        for proc in processes:
            children.setdefault(proc.ppid, []).append(proc)
        stack = [self.process.pid]
        while stack:
            for child in children.get(stack.pop(), []):
                self.seen.setdefault(child.pid, child)
                stack.append(child.pid)

    def service(self, name: str) -> Proc:
        marker = SERVICES[name]
        found = [proc for proc in self.seen.values() if marker in proc.cmdline]
        assert found, f"no {name} process seen among {self.describe(self.seen.values())}"
        return found[0]

    def survivors(self) -> list[Proc]:
        """Processes seen below the demo, or in its or their process groups, still alive."""
        groups = {self.process.pid} | {proc.pgrp for proc in self.seen.values()}
        groups.discard(os.getpgrp())  # never blame the test runner's own group
        left = [proc for proc in self.seen.values() if alive(proc)]
        left += [
            proc
            for proc in all_processes()
            if proc.pgrp in groups and proc.state != "Z" and proc.pid not in self.seen
        ]
        return left

    @staticmethod
    def describe(processes: Any) -> str:
        return "; ".join(
            f"{p.pid} (group {p.pgrp}): {p.cmdline.replace(chr(0), ' ')[:120]}" for p in processes
        )

    def wait_until_up(self, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Seconds until the demo printed ``Up in``, i.e. every service was ready."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            self.record_descendants()
            if "Up in" in self.output():
                return time.monotonic() - started
            if self.process.poll() is not None:
                pytest.fail(f"the demo exited with {self.process.returncode}:\n{self.logs()}")
            time.sleep(0.25)
        pytest.fail(f"the demo was not up after {timeout_s:.0f} s:\n{self.logs()}")

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the demo's process group, as a terminal does."""
        os.killpg(self.process.pid, signal.SIGINT)

    def wait_exit(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the demo did not stop within {timeout_s:.0f} s:\n{self.logs()}")

    def kill_everything(self) -> None:
        """Last resort after a failed test: leave nothing behind for the next one."""
        self.record_descendants()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for proc in self.seen.values():
            if alive(proc):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pgrp, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.survivors() and time.monotonic() < deadline:
            time.sleep(0.1)  # SIGKILL is delivered asynchronously


@contextlib.contextmanager
def running_demo(
    tmp_path: Path,
    *,
    duration: float,
    simulate: bool = True,
    project: Path = REPO,
    env: dict[str, str] | None = None,
) -> Iterator[Demo]:
    """``python -m dpmesh demo`` of ``project`` on free ports; stopped with Ctrl-C if
    still running after. The first context's API gets the port the test watches."""
    catalog_port, api_port, carrier_port = free_ports(3)
    state_dir = tmp_path / "demo"
    output_path = tmp_path / "demo-output.txt"
    command = [
        sys.executable,
        "-m",
        "dpmesh",
        "demo",
        "--duration",
        str(duration),
        "--state-dir",
        str(state_dir),
        "--catalog-port",
        str(catalog_port),
        "--api-port",
        str(api_port),
        "--fake-port",
        str(carrier_port),
    ]
    if not simulate:
        command.append("--no-simulate")
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    environment |= env or {}
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=project,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    demo = Demo(
        process,
        f"http://127.0.0.1:{catalog_port}",
        f"http://127.0.0.1:{api_port}",
        state_dir,
        output_path,
    )
    try:
        yield demo
    finally:
        if process.poll() is None:
            demo.record_descendants()
            demo.interrupt()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                demo.kill_everything()
        if demo.survivors():
            demo.kill_everything()


def eventually(
    check: Callable[[], T | None], *, timeout_s: float, every_s: float = 0.5, what: str
) -> T:
    """The first truthy answer of ``check`` within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(every_s)


def get_json(client: httpx.Client, url: str, **params: Any) -> Any:
    response = client.get(url, params=params)
    response.raise_for_status()
    return response.json()


def analyst(client: httpx.Client, catalog_url: str) -> None:
    """Give ``client`` the demo analyst's token: the demo runs with access control on."""
    answer = client.post(
        f"{catalog_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-analyst", "demo-analyst-secret"),
    )
    answer.raise_for_status()
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


@pytest.mark.slow
@pytest.mark.integration
def test_the_demo_runs_the_scenario_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    """Products in the catalog, stock that moves, a stock-out alert within the run, the
    dashboard serving live data; then Ctrl-C: exit 0 and every process gone."""
    with running_demo(tmp_path, duration=60) as demo:
        up_s = demo.wait_until_up()
        up_at = time.monotonic()
        seen_on_hand: dict[tuple[str, str], set[str]] = {}
        listed: set[str] = set()
        statuses: dict[str, str] = {}
        first_stock_out_s: float | None = None
        moved: list[tuple[str, str]] = []
        dashboard_ok = False
        with httpx.Client(timeout=5.0) as http:
            analyst(http, demo.catalog_url)
            # Everything below must happen while the demo runs (60 s after "Up").
            while time.monotonic() - up_at < 58:
                assert demo.process.poll() is None, f"the demo stopped early:\n{demo.logs()}"
                demo.record_descendants()
                catalog = get_json(http, f"{demo.catalog_url}/api/v1/products")
                listed = {item["urn"] for item in catalog["items"]}
                statuses = {item["urn"]: slo_status(item) for item in catalog["items"]}
                levels = get_json(http, f"{demo.api_url}/api/v1/products/inventory-levels")
                for item in levels["items"]:
                    key = (item["warehouse"], item["sku"])
                    seen_on_hand.setdefault(key, set()).add(item["on_hand"])
                moved = [key for key, values in seen_on_hand.items() if len(values) > 1]
                if first_stock_out_s is None:
                    stock_outs = get_json(
                        http, f"{demo.api_url}/api/v1/products/alerts", type="stock_out_risk"
                    )
                    if stock_outs["count"]:
                        first_stock_out_s = time.monotonic() - up_at
                if not dashboard_ok:
                    answer = http.get(
                        f"{demo.catalog_url}/dashboard/api/products/"
                        "urn:dpmesh:supply_chain:inventory-levels/data"
                    )
                    dashboard_ok = answer.status_code == 200 and bool(
                        answer.json()["data"]["count"]
                    )
                # Every product's SLOs met, from the worker's heartbeats.
                slo_ok = all(status in SLO_OK for status in statuses.values())
                done = listed >= PRODUCTS and moved and first_stock_out_s is not None
                if done and dashboard_ok and slo_ok:
                    break
                time.sleep(1.0)
        print(
            f"demo up in {up_s:.1f} s; first stock-out alert "
            + ("never" if first_stock_out_s is None else f"{first_stock_out_s:.1f} s after up")
            + f"; stock moved for {len(moved)} (warehouse, SKU) pairs"
        )
        assert listed >= PRODUCTS, f"the catalog lists {sorted(listed)}"
        for urn in PRODUCTS:
            assert statuses[urn] in SLO_OK, (urn, statuses[urn])
        assert moved, f"no on_hand changed between reads: {seen_on_hand}"
        assert first_stock_out_s is not None, f"no stock-out alert within the run:\n{demo.logs()}"
        assert dashboard_ok, "the dashboard did not serve inventory data"

        demo.record_descendants()
        for name in SERVICES:
            demo.service(name)  # every service was seen, so the survivor check covers it
        demo.interrupt()
        code = demo.wait_exit()

    assert code == 0, demo.logs()
    assert "Demo stopped; no process left behind." in demo.output()
    assert not demo.survivors(), Demo.describe(demo.survivors())


@pytest.mark.slow
@pytest.mark.integration
def test_the_demo_stops_by_itself_after_its_duration(tmp_path: Path) -> None:
    with running_demo(tmp_path, duration=2, simulate=False) as demo:
        demo.wait_until_up()
        demo.record_descendants()
        for name in ("broker", "catalog", "carrier", "api", "relay", "worker"):
            demo.service(name)
        code = demo.wait_exit()

    assert code == 0, demo.logs()
    assert "Running for 2 s." in demo.output()
    assert "Demo stopped; no process left behind." in demo.output()
    assert not demo.survivors(), Demo.describe(demo.survivors())
