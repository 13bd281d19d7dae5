"""Register a context's data products with the dpmesh catalog, and report their health.

A context describes its data products in its ``dataproduct/`` folder: one ODPS file per
product (``<product>.odps.yaml``) and the ODCS contracts its output ports name
(``*.odcs.yaml``). At start-up it turns that folder into registration documents with
:func:`build_registrations`, adding where *this* deployment serves each port (the API's
base URL, the Kafka bootstrap servers, the snapshot folder), and sends them with
:func:`register_products`. While it runs, :func:`send_heartbeat` reports its live SLIs.

The catalog is a separate service that may start after the context: registration
retries with backoff, then raises :class:`CatalogUnavailable` and the caller decides
whether that is fatal. A document the catalog refuses (4xx) raises
:class:`CatalogRejected` at once: retrying would not change the answer.

Contexts import this module, never the platform package, so it depends on httpx and
PyYAML only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import httpx

from shared_kernel.infrastructure.bitol import DescriptorError, custom_property, read_documents
from shared_kernel.infrastructure.oauth import TokenUnavailable

__all__ = [
    "CatalogError",
    "CatalogRejected",
    "CatalogUnavailable",
    "RegistrationError",
    "build_registrations",
    "register_products",
    "send_heartbeat",
]

logger = logging.getLogger(__name__)

URN: Final = re.compile(r"^urn:dpmesh:(?P<context>[a-z][a-z0-9_]*):(?P<product>[a-z][a-z0-9-]*)$")
PRODUCTS_PATH: Final = "/api/v1/products"
HealthStatus = Literal["healthy", "degraded", "unhealthy"]


class RegistrationError(ValueError):
    """The ``dataproduct/`` folder cannot be turned into registration documents."""


class CatalogError(Exception):
    """The catalog did not take a document."""


class CatalogUnavailable(CatalogError):
    """The catalog could not be reached, or kept failing, within the attempts allowed."""


class CatalogRejected(CatalogError):
    """The catalog refused a document (4xx); ``detail`` is its problem+json body."""

    def __init__(self, urn: str, status: int, detail: Any) -> None:
        super().__init__(f"the catalog refused {urn} with {status}: {detail}")
        self.urn = urn
        self.status = status
        self.detail = detail


def build_registrations(
    directory: Path,
    *,
    context: str,
    api_base_url: str | None = None,
    kafka_bootstrap_servers: str | None = None,
    snapshot_root: str | Path | None = None,
) -> list[dict[str, Any]]:
    """One registration document per ODPS product in ``directory``.

    Each document carries the product file and the contracts its output ports name,
    unchanged, plus one entry per output port with the address this deployment serves
    it at. An argument left out keeps the address the contract declares (its server).
    """
    contracts = {
        str(document.get("id")): document
        for document in _documents(directory, "*.odcs.yaml", "DataContract")
    }
    registrations = []
    for product in _documents(directory, "*.odps.yaml", "DataProduct"):
        urn = str(product.get("id"))
        match = URN.match(urn)
        if match is None or match["context"] != context or match["product"] != product.get("name"):
            raise RegistrationError(
                f"product id {urn!r} must be urn:dpmesh:{context}:{product.get('name')}"
            )
        ports = []
        used: dict[str, dict[str, Any]] = {}
        for port in product.get("outputPorts") or []:
            contract_id = str(port.get("contractId"))
            contract = contracts.get(contract_id)
            if contract is None:
                raise RegistrationError(f"{urn}: no contract {contract_id} in {directory}")
            used[contract_id] = contract
            ports.append(
                _port(
                    port,
                    contract,
                    api_base_url=api_base_url,
                    kafka_bootstrap_servers=kafka_bootstrap_servers,
                    snapshot_root=snapshot_root,
                )
            )
        registrations.append(
            _jsonable(
                {
                    "urn": urn,
                    "context": context,
                    "name": product.get("name"),
                    "version": str(product.get("version", "")),
                    "status": str(product.get("status", "")),
                    "domain": str(product.get("domain", context)),
                    "descriptor": product,
                    "contracts": list(used.values()),
                    "ports": ports,
                }
            )
        )
    return registrations


async def register_products(
    catalog_url: str,
    registrations: Sequence[Mapping[str, Any]],
    *,
    attempts: int = 5,
    backoff_s: float = 0.5,
    timeout_s: float = 5.0,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: httpx.Auth | None = None,
) -> list[str]:
    """``PUT`` each document at ``/api/v1/products/{urn}``; the URNs registered.

    With access control on, the catalog wants a token with ``catalog:<context>:write``:
    pass the context's client credentials as ``auth``
    (``shared_kernel.infrastructure.oauth.ClientCredentials``).

    Registering is idempotent, so a retry after a lost answer is harmless. Connection
    errors and 5xx answers are retried ``attempts`` times in all, waiting ``backoff_s``
    and then twice as long each time.
    """
    async with httpx.AsyncClient(
        base_url=catalog_url, timeout=timeout_s, transport=transport, auth=auth
    ) as client:
        registered = []
        for registration in registrations:
            urn = str(registration["urn"])
            await _put_with_retries(client, urn, registration, attempts, backoff_s)
            registered.append(urn)
        return registered


async def send_heartbeat(
    catalog_url: str,
    urn: str,
    *,
    slis: Mapping[str, float],
    status: HealthStatus = "healthy",
    observed_at: datetime | None = None,
    timeout_s: float = 5.0,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: httpx.Auth | None = None,
) -> bool:
    """Report a product's live SLIs (e.g. ``freshness_ms``, ``completeness``,
    ``error_rate``); True when the catalog took it.

    Never raises for the catalog's sake: a heartbeat lost is replaced by the next one,
    so failures are logged and reported as False.
    """
    body = {
        "status": status,
        "slis": dict(slis),
        "observed_at": (observed_at or datetime.now(UTC)).isoformat(),
    }
    try:
        async with httpx.AsyncClient(
            base_url=catalog_url, timeout=timeout_s, transport=transport, auth=auth
        ) as client:
            response = await client.post(f"{PRODUCTS_PATH}/{urn}/heartbeat", json=body)
    except (httpx.HTTPError, TokenUnavailable) as exc:
        logger.warning("heartbeat of %s not delivered: %s", urn, exc)
        return False
    if response.is_success:
        return True
    logger.warning("heartbeat of %s refused with %s: %s", urn, response.status_code, response.text)
    return False


async def _put_with_retries(
    client: httpx.AsyncClient,
    urn: str,
    registration: Mapping[str, Any],
    attempts: int,
    backoff_s: float,
) -> None:
    delay = backoff_s
    last: str = "no attempt made"
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            response = await client.put(f"{PRODUCTS_PATH}/{urn}", json=dict(registration))
        except (httpx.TransportError, TokenUnavailable) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                return
            if response.status_code < 500:
                raise CatalogRejected(urn, response.status_code, _body(response))
            last = f"{response.status_code}: {response.text[:200]}"
        if attempt < attempts:
            logger.info("catalog not ready for %s (%s); retrying in %.1fs", urn, last, delay)
            await asyncio.sleep(delay)
            delay *= 2
    raise CatalogUnavailable(f"could not register {urn} after {attempts} attempt(s): {last}")


def _port(
    port: Mapping[str, Any],
    contract: Mapping[str, Any],
    *,
    api_base_url: str | None,
    kafka_bootstrap_servers: str | None,
    snapshot_root: str | Path | None,
) -> dict[str, Any]:
    kind = str(port.get("type"))
    entry: dict[str, Any] = {
        "name": port.get("name"),
        "type": kind,
        "version": str(port.get("version", "")),
        "contract_id": contract.get("id"),
        "scope": custom_property(port, "accessScope"),
    }
    servers = [server for server in contract.get("servers") or [] if isinstance(server, dict)]
    objects = [obj for obj in contract.get("schema") or [] if isinstance(obj, dict)]
    if kind == "rest":
        declared = next((s["location"] for s in servers if s.get("location")), None)
        if declared is None:
            raise RegistrationError(f"contract {contract.get('id')} has no api server location")
        path = urlsplit(str(declared)).path
        entry["url"] = f"{api_base_url.rstrip('/')}{path}" if api_base_url else str(declared)
    elif kind == "kafka":
        topic = next(
            (obj["physicalName"] for obj in objects if obj.get("physicalType") == "topic"), None
        )
        host = kafka_bootstrap_servers or next((s.get("host") for s in servers), None)
        if topic is None or host is None:
            raise RegistrationError(f"contract {contract.get('id')} names no topic or no host")
        entry |= {"topic": topic, "bootstrap_servers": host, "url": f"kafka://{host}/{topic}"}
    elif kind == "parquet":
        folder = next((obj.get("physicalName") for obj in objects), None)
        if folder is None:
            raise RegistrationError(f"contract {contract.get('id')} names no snapshot folder")
        entry |= _snapshot_location(servers, str(folder), snapshot_root)
    else:
        raise RegistrationError(f"output port {port.get('name')!r} has unknown type {kind!r}")
    return entry


def _snapshot_location(
    servers: Sequence[Mapping[str, Any]], folder: str, root: str | Path | None
) -> dict[str, str]:
    if root is None:
        declared = next((s.get("path") or s.get("location") for s in servers), None)
        return {"path": str(declared), "url": str(declared)}
    text = str(root)
    if "://" in text:
        location = f"{text.rstrip('/')}/{folder}/"
        return {"path": location, "url": location}
    directory = Path(text).resolve() / folder
    return {"path": str(directory), "url": directory.as_uri() + "/"}


def _documents(directory: Path, pattern: str, kind: str) -> list[dict[str, Any]]:
    try:
        return read_documents(directory, pattern, kind)
    except DescriptorError as exc:
        raise RegistrationError(str(exc)) from exc


def _jsonable(value: Any) -> Any:
    """YAML gives dates and datetimes where JSON has strings."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
