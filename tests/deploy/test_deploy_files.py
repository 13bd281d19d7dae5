"""deploy/ checked offline: no container engine, no network, nothing built or started.

What a typo in these files would otherwise cost is a failed ``docker compose up`` far
from the cause, or worse, a stack that starts and silently runs with a default. So:

- the compose file is valid under the Compose Specification's JSON Schema (shipped by
  the ``check-jsonschema`` package), and under ``docker compose config`` where a
  Compose v2 client is installed;
- every dpmesh service's command parses with the real ``dpmesh`` CLI, options and all;
- every environment variable given to a dpmesh process is read by a settings class,
  and those classes see the values meant (idempotent, exactly-once Kafka clients);
- URLs point at services that exist, on the ports those services listen on, and
  databases exist in the init script with the role and password the URL uses;
- Kafka runs in KRaft mode, the dependency graph can start, the image runs dpmesh as
  an unprivileged user and its build context holds what the Dockerfile copies.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml
from pydantic_settings import BaseSettings

from dpmesh.cli import app as dpmesh_app
from dpmesh.runtime.contexts import context_names
from shared_kernel.interfaces.keys import SigningKey

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
INIT_SQL = DEPLOY / "postgres" / "init.sql"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

#: Every settings class a dpmesh process reads its environment with. A variable the
#: compose file sets must be a field of one of them (matched by the longest prefix),
#: or it would be ignored without a word (the classes use ``extra="ignore"``).
SETTINGS_CLASSES = (
    "shared_kernel.infrastructure.settings:KafkaSettings",
    "contexts.supply_chain.infrastructure.settings:SupplyChainSettings",
    "contexts.supply_chain.infrastructure.external_services.carrier_client:CarrierSettings",
    "dpmesh.catalog.app:CatalogSettings",
    "dpmesh.catalog.dashboard:DashboardSettings",
    "shared_kernel.interfaces.auth:AuthSettings",
)

TRUE = frozenset({"1", "true", "yes", "on"})


# -- loading ----------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the
    last one silently; Compose refuses the file). Keys merged in with ``<<`` may be
    overridden, as YAML intends."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@functools.cache
def compose() -> dict[str, Any]:
    loaded = yaml.load(COMPOSE_FILE.read_text(), Loader=_StrictLoader)
    assert isinstance(loaded, dict), "the compose file must be a mapping"
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def dpmesh_services() -> dict[str, dict[str, Any]]:
    """The services that run the image built from deploy/Dockerfile."""
    found = {}
    for name, service in services().items():
        build = service.get("build")
        if isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile":
            found[name] = service
    return found


def command_of(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def option(argv: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in ``argv``."""
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as strings, the way the process receives it."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    as_text = {}
    for key, value in env.items():
        if isinstance(value, bool):
            value = str(value).lower()
        as_text[str(key)] = "" if value is None else str(value)
    return as_text


def listening_port(name: str) -> int | None:
    """The port a service listens on inside the network, from its command or role."""
    service = services()[name]
    port = option(command_of(service), "--port")
    if port is not None:
        return int(port)
    if name == "postgres" or str(service.get("image", "")).startswith("postgres:"):
        return 5432
    return None


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """Each dependency with its condition (the short list form means service_started)."""
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in deps.items()}


# -- the compose file against the specification ----------------------------------------


def compose_spec_schema() -> dict[str, Any] | None:
    """The Compose Specification's JSON Schema, as vendored by check-jsonschema.

    Read from the installed distribution's files, without importing the package (its
    command-line module wants a newer click than the rest of the project pins).
    """
    try:
        distribution = importlib.metadata.distribution("check-jsonschema")
    except importlib.metadata.PackageNotFoundError:
        return None
    for path in distribution.files or ():
        if path.name == "compose-spec.json" and path.parent.name == "vendor":
            return json.loads(Path(str(distribution.locate_file(path))).read_text())
    return None


def schema_errors(document: Any, schema: dict[str, Any]) -> list[str]:
    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    ]


def compose_v2_cli() -> list[str] | None:
    """``docker compose`` or ``docker-compose``, if either is Compose v2.

    Compose v1 (Debian bookworm's docker-compose 1.29) is not used: it predates the
    top-level ``name`` of the current specification and would refuse a valid file.
    """
    for argv in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(argv[0]) is None:
            continue
        probe = subprocess.run(
            [*argv, "version", "--short"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip().lstrip("v").startswith("2"):
            return argv
    return None


def test_compose_file_is_valid_under_the_compose_specification() -> None:
    schema = compose_spec_schema()
    cli = compose_v2_cli()
    if schema is None and cli is None:
        pytest.skip(
            "no Compose validator: install the dev extra (check-jsonschema ships the "
            "Compose Specification's schema) or a Compose v2 client"
        )
    if schema is not None:
        assert schema_errors(compose(), schema) == []
        # The validator is not vacuous: a misspelt key in a service is an error.
        broken = json.loads(json.dumps(compose()))
        broken["services"]["kafka"]["healthcheck"]["intervall"] = "5s"
        assert schema_errors(broken, schema), "the schema accepted an unknown key"
    if cli is not None:
        result = subprocess.run(
            [*cli, "--file", str(COMPOSE_FILE), "config", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr


def test_compose_file_uses_the_specification_without_a_version_key() -> None:
    assert "version" not in compose()
    assert compose().get("name") == "dpmesh"


# -- one image, the dpmesh commands -------------------------------------------------------

DPMESH_SERVICES = sorted(dpmesh_services())


def test_every_dpmesh_process_runs_the_one_image_built_from_deploy() -> None:
    expected = {
        "catalog",
        "supply-chain-migrate",
        "supply-chain-api",
        "supply-chain-relay",
        "supply-chain-worker",
        "carrier",
        "simulator",
    }
    assert expected <= set(DPMESH_SERVICES)
    images = {service.get("image") for service in dpmesh_services().values()}
    assert len(images) == 1, f"dpmesh services name several images: {images}"
    for name, service in dpmesh_services().items():
        context = (COMPOSE_FILE.parent / service["build"]["context"]).resolve()
        assert context == ROOT, f"{name}: the build context must be the repository root"
        assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE
    others = set(services()) - set(DPMESH_SERVICES)
    assert others == {"kafka", "postgres"}, f"unexpected services: {others}"


class CommandRejected(Exception):
    """``dpmesh`` would refuse this command line (unknown command, option or value)."""


@dataclass(frozen=True)
class Parsed:
    path: list[str]
    params: dict[str, Any] = field(default_factory=dict)


def parse_dpmesh(argv: list[str]) -> Parsed:
    """Parse ``dpmesh <argv>`` with the real CLI down to the leaf command, as the entry
    point would, without running it."""
    command: Any = typer.main.get_command(dpmesh_app)
    context = command.make_context("dpmesh", [], resilient_parsing=True)
    path: list[str] = []
    rest = list(argv)
    while True:
        if not rest or rest[0].startswith("-"):
            raise CommandRejected(f"'{' '.join(['dpmesh', *path])}' needs a subcommand")
        name = rest.pop(0)
        subcommand = command.get_command(context, name)
        if subcommand is None:
            raise CommandRejected(
                f"'{' '.join(['dpmesh', *path])}' has no command {name!r}; "
                f"it has: {', '.join(sorted(command.commands))}"
            )
        path.append(name)
        if not hasattr(subcommand, "commands"):
            break
        context = subcommand.make_context(name, [], parent=context, resilient_parsing=True)
        command = subcommand
    try:
        leaf = subcommand.make_context(name, rest, parent=context)
    except Exception as exc:  # click's usage errors; their classes vary by version
        raise CommandRejected(str(exc)) from exc
    return Parsed(path, dict(leaf.params))


@pytest.mark.parametrize("name", DPMESH_SERVICES)
def test_service_command_is_a_real_dpmesh_command(name: str) -> None:
    argv = command_of(services()[name])
    assert argv, f"{name}: no command; the image would only print --help"
    try:
        parsed = parse_dpmesh(argv)
    except CommandRejected as exc:
        pytest.fail(f"{name}: 'dpmesh {' '.join(argv)}' does not parse: {exc}")
    if parsed.path[0] in ("run", "migrate", "fake", "simulate"):
        assert parsed.params["name"] in context_names(), f"{name}: unknown context"


def test_the_parser_refuses_what_the_cli_would_refuse() -> None:
    """The check above can fail: bad options, values and commands are caught."""
    for argv in (
        ["run", "supply_chain", "api", "--no-such-option"],
        ["run", "supply_chain", "gateway"],
        ["run", "supply_chain", "api", "--port", "0"],
        ["no-such-command"],
        ["contracts", "no-such-subcommand"],
    ):
        with pytest.raises(CommandRejected):
            parse_dpmesh(argv)
    assert parse_dpmesh(["contracts", "check"]).path == ["contracts", "check"]


def test_context_processes_wait_for_the_one_shot_migration() -> None:
    """``run ... --no-migrate`` is only safe after ``migrate`` of the same context."""
    migrations = {
        command_of(service)[1]: name
        for name, service in dpmesh_services().items()
        if command_of(service)[:1] == ["migrate"]
    }
    runners = {
        name: command_of(service)
        for name, service in dpmesh_services().items()
        if command_of(service)[:1] == ["run"]
    }
    assert {argv[2] for argv in runners.values()} == {"api", "relay", "worker"}
    for name, argv in runners.items():
        context = argv[1]
        assert "--no-migrate" in argv, f"{name}: migrations belong to the one-shot service"
        assert context in migrations, f"{name}: no 'dpmesh migrate {context}' service"
        migrate_service = migrations[context]
        assert depends_on(services()[name]).get(migrate_service) == (
            "service_completed_successfully"
        ), f"{name} must wait for {migrate_service} to complete"
        env = environment(services()[name])
        flag = f"{context.upper()}_MIGRATE_ON_STARTUP"
        assert env.get(flag, "false").lower() not in TRUE, f"{name}: {flag} must be off"
    for migrate_service in migrations.values():
        restart = str(services()[migrate_service].get("restart", "no"))
        assert restart == "no" or restart.startswith("on-failure"), (
            f"{migrate_service} is one-shot: restart '{restart}' would never complete"
        )


def test_listening_services_bind_every_interface_and_publish_on_loopback() -> None:
    for name, service in dpmesh_services().items():
        argv = command_of(service)
        if option(argv, "--port") is not None:
            assert option(argv, "--host") == "0.0.0.0", (
                f"{name}: the default host 127.0.0.1 is unreachable from other containers"
            )
    for name, service in services().items():
        for published in service.get("ports", []):
            text = str(published)
            assert text.startswith("127.0.0.1:"), f"{name}: publish on loopback only: {text}"
            container_port = int(text.rsplit(":", 1)[1].split("/")[0])
            if name in dpmesh_services():
                assert container_port == listening_port(name), (
                    f"{name} publishes {container_port} but listens on {listening_port(name)}"
                )


# -- environment: read by real settings, pointing at real services ------------------------


@functools.cache
def settings_classes() -> dict[str, type[BaseSettings]]:
    """Each settings class by its environment prefix."""
    classes: dict[str, type[BaseSettings]] = {}
    for spec in SETTINGS_CLASSES:
        module_name, class_name = spec.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        classes[str(cls.model_config.get("env_prefix", "")).upper()] = cls
    return classes


def aliases() -> dict[str, tuple[type[BaseSettings], str]]:
    """Variables a settings class reads by an explicit alias (``DPMESH_ENVIRONMENT``)."""
    found: dict[str, tuple[type[BaseSettings], str]] = {}
    for cls in settings_classes().values():
        for name, info in cls.model_fields.items():
            choices = getattr(info.validation_alias, "choices", ())
            for choice in choices:
                if isinstance(choice, str) and choice.isupper():
                    found[choice] = (cls, name)
    return found


def settings_class_for(variable: str) -> type[BaseSettings] | None:
    if variable.upper() in aliases():
        return aliases()[variable.upper()][0]
    matches = [prefix for prefix in settings_classes() if variable.upper().startswith(prefix)]
    return settings_classes()[max(matches, key=len)] if matches else None


def field_of(variable: str, cls: type[BaseSettings]) -> str:
    if variable.upper() in aliases():
        return aliases()[variable.upper()][1]
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    return variable.upper()[len(prefix) :].lower()


@pytest.mark.parametrize("name", DPMESH_SERVICES)
def test_every_variable_is_read_by_a_settings_class(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = environment(services()[name])
    if "DPMESH_AUTH_SIGNING_KEY_FILE" in env:
        # The key is made in its volume when the stack starts; here, a key of our own.
        key_file = tmp_path / "issuer.pem"
        key_file.write_text(SigningKey.generate().private_pem())
        env["DPMESH_AUTH_SIGNING_KEY_FILE"] = str(key_file)
    unread = []
    for variable in env:
        cls = settings_class_for(variable)
        if cls is None or field_of(variable, cls) not in cls.model_fields:
            unread.append(variable)
    assert unread == [], f"{name}: nothing reads {unread}; a typo, or a setting to add"
    # And each class, built from exactly this environment, takes every value (types,
    # bounds) and sees what the file says.
    for variable in list(os.environ):
        if settings_class_for(variable) is not None:
            monkeypatch.delenv(variable)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for cls in settings_classes().values():
        given = {k: v for k, v in env.items() if settings_class_for(k) is cls}
        if not given:
            continue
        settings = cls()
        for key, value in given.items():
            seen = getattr(settings, field_of(key, cls))
            seen = seen.get_secret_value() if hasattr(seen, "get_secret_value") else seen
            if isinstance(seen, bool):
                assert seen is (value.lower() in TRUE), f"{name}: {key}"
            elif isinstance(seen, dict | list):
                assert seen == json.loads(value), f"{name}: {key}"
            else:
                assert str(seen) == value or seen == type(seen)(value), f"{name}: {key}"


def test_kafka_clients_are_idempotent_and_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared_kernel.infrastructure.settings import KafkaSettings

    clients = {
        name: environment(service)
        for name, service in dpmesh_services().items()
        if "KAFKA_BOOTSTRAP_SERVERS" in environment(service)
    }
    assert {"supply-chain-relay", "supply-chain-worker"} <= set(clients)
    for name, env in clients.items():
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            settings = KafkaSettings()
        assert settings.idempotent_producer, f"{name}: Apache Kafka supports idempotence"
        assert settings.exactly_once, f"{name}: Apache Kafka supports transactions"
        assert settings.topic_replication == 1, f"{name}: one broker holds one replica"
        assert settings.bootstrap_servers == internal_kafka_address(), name


def kafka_env() -> dict[str, str]:
    return environment(services()["kafka"])


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` as ``{NAME: (host, port)}``."""
    found = {}
    for item in value.split(","):
        listener_name, address = item.strip().split("://", 1)
        host, port = address.rsplit(":", 1)
        found[listener_name] = (host, int(port))
    return found


def internal_kafka_address() -> str:
    advertised = listeners(kafka_env()["KAFKA_ADVERTISED_LISTENERS"])
    inside = [f"{host}:{port}" for host, port in advertised.values() if host == "kafka"]
    assert len(inside) == 1, f"one listener should be advertised as kafka:<port>: {advertised}"
    return inside[0]


def urls_in(service: Mapping[str, Any]) -> Iterator[str]:
    for value in [*environment(service).values(), *command_of(service)]:
        if re.match(r"^[a-z][a-z0-9+.-]*://", value):
            yield value


@pytest.mark.parametrize("name", DPMESH_SERVICES)
def test_urls_point_at_services_on_the_ports_they_listen_on(name: str) -> None:
    roles = init_sql()
    for url in urls_in(services()[name]):
        parts = urlsplit(url)
        assert parts.hostname in services(), f"{name}: {url} names no service"
        port = parts.port
        if parts.scheme.startswith("postgresql"):
            assert port == listening_port(parts.hostname), f"{name}: {url}"
            database = parts.path.lstrip("/")
            assert database in roles.databases, f"{name}: init.sql creates no {database!r}"
            owner = roles.databases[database]
            assert parts.username == owner, f"{name}: {database} belongs to {owner}"
            assert roles.passwords.get(owner) == parts.password, f"{name}: password of {owner}"
        else:
            assert parts.scheme == "http", f"{name}: {url}"
            assert port == listening_port(parts.hostname), (
                f"{name}: {url}, but {parts.hostname} listens on {listening_port(parts.hostname)}"
            )


# -- health checks and the start-up order -------------------------------------------------


def has_healthcheck(service: Mapping[str, Any]) -> bool:
    check = service.get("healthcheck")
    return bool(check) and not check.get("disable", False) and check.get("test") != ["NONE"]


def test_dependencies_exist_and_their_conditions_can_be_met() -> None:
    for name, service in services().items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            target = services()[dependency]
            if condition == "service_healthy":
                assert has_healthcheck(target), f"{name} waits for {dependency}'s health check"
            elif condition == "service_completed_successfully":
                restart = str(target.get("restart", "no"))
                assert restart == "no" or restart.startswith("on-failure"), (
                    f"{dependency} restarts '{restart}', so it never completes for {name}"
                )
            else:
                assert condition == "service_started", f"{name}: {condition}"
    # No cycle: the services can be started in some order.
    remaining = {name: set(depends_on(service)) for name, service in services().items()}
    while remaining:
        ready = {name for name, deps in remaining.items() if not deps & remaining.keys()}
        assert ready, f"dependency cycle among {sorted(remaining)}"
        for name in ready:
            del remaining[name]


def test_processes_wait_for_what_they_connect_to() -> None:
    expectations = {
        "supply-chain-api": {"postgres", "supply-chain-migrate"},
        "supply-chain-relay": {"postgres", "kafka", "supply-chain-migrate"},
        "supply-chain-worker": {"postgres", "kafka", "supply-chain-migrate", "carrier"},
        "supply-chain-migrate": {"postgres"},
        "catalog": {"postgres"},
        "simulator": {"supply-chain-api", "carrier"},
    }
    for name, needed in expectations.items():
        conditions = depends_on(services()[name])
        missing = needed - conditions.keys()
        assert not missing, f"{name} starts without waiting for {missing}"
        for dependency in needed & {"postgres", "kafka"}:
            assert conditions[dependency] == "service_healthy", f"{name} -> {dependency}"


HTTP_PROBE = re.compile(r"http://(?:127\.0\.0\.1|localhost):(?P<port>\d+)(?P<path>/\S*)")


@pytest.mark.parametrize("name", ["catalog", "supply-chain-api", "carrier"])
def test_http_services_are_probed_on_their_own_port(name: str) -> None:
    service = services()[name]
    assert has_healthcheck(service), f"{name} has no health check"
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL"), test
    for tool in ("curl", "wget"):
        assert tool not in " ".join(test), f"the slim image has no {tool}; probe with python"
    probe = HTTP_PROBE.search(" ".join(test))
    assert probe, f"{name}: the health check requests no local URL: {test}"
    assert int(probe["port"]) == listening_port(name)
    # The API and the catalog are ready when their database answers; the fake carrier
    # has no dependency and answers /healthz.
    assert probe["path"] == ("/healthz" if name == "carrier" else "/readyz")


def test_infrastructure_health_checks() -> None:
    kafka_check = " ".join(services()["kafka"]["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh" in kafka_check or "kafka-topics.sh" in kafka_check
    postgres_check = services()["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(postgres_check)
    # Over TCP: during init the server listens on its Unix socket only.
    assert "127.0.0.1" in postgres_check or "localhost" in postgres_check


# -- Kafka --------------------------------------------------------------------------------


def test_kafka_is_a_single_kraft_node_without_zookeeper() -> None:
    env = kafka_env()
    image = services()["kafka"]["image"]
    assert image.startswith("apache/kafka:"), image
    for name, service in services().items():
        assert "zookeeper" not in name
        assert "zookeeper" not in str(service.get("image", ""))
    assert not any("ZOOKEEPER" in key for key in env)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(bound) <= set(protocols), "every listener needs a security protocol"
    assert set(advertised) <= set(bound), "only bound listeners can be advertised"
    assert controller in bound
    assert controller not in advertised, "the controller listener is never advertised"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [f"{node_id}@kafka:{bound[controller][1]}"], voters
    # KRaft storage is formatted with a cluster id: 16 bytes, base64url without padding.
    cluster_id = env["CLUSTER_ID"]
    try:
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    except binascii.Error as exc:
        pytest.fail(f"CLUSTER_ID is not base64url: {exc}")
    assert len(cluster_id) == 22
    # The data directory is the volume, so topics survive a restart.
    volumes = [str(volume) for volume in services()["kafka"]["volumes"]]
    assert any(volume.endswith(f":{env['KAFKA_LOG_DIRS']}") for volume in volumes)


def test_one_broker_can_host_transactions() -> None:
    """Exactly-once needs the transaction log; with more replicas than brokers it is
    never created and every transactional producer hangs."""
    env = kafka_env()
    brokers = 1
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert key in env, f"{key} defaults to 3 (or 2), more than one broker can host"
        assert int(env[key]) <= brokers, key


# -- volumes and PostgreSQL ---------------------------------------------------------------


def test_volumes_are_declared_and_bind_mounts_exist() -> None:
    declared = set(compose().get("volumes") or {})
    used = set()
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert declared == used, f"declared but unused: {declared - used}"


@dataclass
class InitSql:
    databases: dict[str, str] = field(default_factory=dict)  # name -> owner
    passwords: dict[str, str] = field(default_factory=dict)  # role -> password


@functools.cache
def init_sql() -> InitSql:
    text = re.sub(r"--[^\n]*", "", INIT_SQL.read_text())
    found = InitSql()
    for role, password in re.findall(
        r"CREATE\s+ROLE\s+(\w+)\s+WITH\s+LOGIN\s+PASSWORD\s+'([^']*)'", text, re.IGNORECASE
    ):
        found.passwords[role] = password
    for database, owner in re.findall(
        r"CREATE\s+DATABASE\s+(\w+)\s+OWNER\s+(\w+)", text, re.IGNORECASE
    ):
        found.databases[database] = owner
    return found


def test_init_script_gives_each_context_and_the_catalog_their_own_databases() -> None:
    sql = init_sql()
    for context in context_names():
        assert sql.databases.get(context) == context, f"{context}: operational database"
        assert sql.databases.get(f"{context}_analytics") == context, f"{context}: read store"
    assert sql.databases.get("catalog") == "catalog"
    assert set(sql.databases.values()) <= set(sql.passwords), "every owner can log in"
    postgres = services()["postgres"]
    assert str(postgres["image"]).startswith("postgres:16"), postgres["image"]
    mounts = [str(volume) for volume in postgres["volumes"]]
    assert any(
        mount.startswith("./postgres/init.sql:/docker-entrypoint-initdb.d/") for mount in mounts
    ), mounts


# -- the Dockerfile -----------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str] | None:
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        parsed = json.loads(text)
        assert isinstance(parsed, list), self
        return [str(item) for item in parsed]

    def pairs(self) -> dict[str, str]:
        """``ENV``/``LABEL``/``ARG`` arguments as key/value pairs (``k=v`` or ``k v``)."""
        words = shlex.split(self.arguments, posix=True)
        if words and "=" not in words[0]:
            return {words[0]: " ".join(words[1:])}
        return dict(word.split("=", 1) if "=" in word else (word, "") for word in words)

    def flags(self) -> dict[str, str]:
        return dict(
            word[2:].split("=", 1)
            for word in self.arguments.split()
            if word.startswith("--") and "=" in word
        )

    def words(self) -> list[str]:
        return [word for word in self.arguments.split() if not word.startswith("--")]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for instruction in self.all("ENV"):
            found.update(instruction.pairs())
        return found


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """A tolerant Dockerfile reader: comments dropped, continuations joined, one
    instruction per logical line; global ``ARG`` defaults substituted into ``FROM``."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    if pending:
        logical.append(pending)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            words = instruction.words()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m[1], m[0]), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert instruction.keyword == "ARG", f"only ARG may come before FROM: {line}"
            global_args.update(instruction.pairs())
        else:
            stages[-1].instructions.append(instruction)
    return global_args, stages


@functools.cache
def dockerfile() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())[1]


def runtime_stage() -> Stage:
    return dockerfile()[-1]


def test_the_dockerfile_parser_reads_what_it_is_given() -> None:
    _, stages = parse_dockerfile(
        "ARG BASE=python:3.11-slim\n# a comment\nFROM ${BASE} AS b\nRUN a \\\n  && b\n"
        'FROM $BASE\nENV A=1 B="two words"\nENV C 3\nUSER 10001:10001\n'
        'ENTRYPOINT ["dpmesh"]\n'
    )
    assert [(s.base, s.name) for s in stages] == [
        ("python:3.11-slim", "b"),
        ("python:3.11-slim", None),
    ]
    assert stages[0].all("RUN")[0].arguments == "a  && b"
    assert stages[1].env() == {"A": "1", "B": "two words", "C": "3"}
    assert stages[1].all("ENTRYPOINT")[0].exec_form() == ["dpmesh"]


def test_image_is_built_in_stages_on_python_311_slim() -> None:
    stages = dockerfile()
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    for stage in stages:
        assert stage.base.startswith("python:3.11-slim"), stage.base
    builders = {stage.name for stage in stages[:-1]}
    copied_from = {instruction.flags().get("from") for instruction in runtime_stage().all("COPY")}
    assert copied_from & builders, "the runtime stage takes its packages from the builder"


def test_runtime_stage_runs_dpmesh_as_an_unprivileged_fixed_user() -> None:
    stage = runtime_stage()
    users = stage.all("USER")
    assert users, "the runtime stage must not run as root"
    uid, _, gid = users[-1].arguments.partition(":")
    assert uid.isdigit(), f"USER must be a numeric uid, for runAsNonRoot checks: {uid}"
    assert int(uid) != 0, "USER must not be root"
    if gid:
        assert gid.isdigit(), f"USER group: {gid}"
        assert int(gid) != 0, "USER group must not be root"
    created = " ".join(i.arguments for i in stage.all("RUN"))
    assert re.search(rf"useradd\b[^&;]*--uid {uid}\b", created), "the uid is not created"
    entrypoint = stage.all("ENTRYPOINT")
    assert entrypoint, "no ENTRYPOINT"
    assert entrypoint[-1].exec_form() == ["dpmesh"]
    cmd = stage.all("CMD")
    assert cmd, "no CMD"
    assert cmd[-1].exec_form() == ["--help"]


def test_image_is_lean_quiet_and_labelled() -> None:
    stage = runtime_stage()
    env = stage.env()
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    # Health checks are per service in the compose file, not one for every process.
    assert not any(i.keyword == "HEALTHCHECK" for s in dockerfile() for i in s.instructions)
    labels: dict[str, str] = {}
    for instruction in stage.all("LABEL"):
        labels.update(instruction.pairs())
    args = {}
    for instruction in stage.all("ARG"):
        args.update(instruction.pairs())
    assert labels.get("org.opencontainers.image.title") == "dpmesh"
    assert labels.get("org.opencontainers.image.licenses") == PYPROJECT["project"]["license"]
    version = re.sub(
        r"\$\{?(\w+)\}?",
        lambda m: args.get(m[1], ""),
        labels.get("org.opencontainers.image.version", ""),
    )
    assert version == PYPROJECT["project"]["version"], "the version label is stale"


def test_image_installs_no_dev_or_embedded_extras() -> None:
    every_line = " ".join(
        f"{i.keyword} {i.arguments}" for stage in dockerfile() for i in stage.instructions
    )
    for extra in PYPROJECT["project"]["optional-dependencies"]:
        installed = re.search(rf"\[[\w,\s'\"]*\b{re.escape(extra)}\b[\w,\s'\"]*\]", every_line)
        assert installed is None, f"the image installs the {extra!r} extra: {installed}"
    assert "calfkit" not in every_line, "the embedded broker has no place in the image"


# -- the build context ----------------------------------------------------------------------


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """``.dockerignore`` as (exclude?, regex), in order: the last match decides."""
    patterns = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line[1:].strip() if include else line
        patterns.append((not include, re.compile(glob_to_regex(pattern.strip("/")))))
    return patterns


def glob_to_regex(pattern: str) -> str:
    """Docker's ignore globs: ``**`` any number of directories, ``*`` and ``?`` within
    one path element, ``[...]`` a class."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", index)
            body = pattern[index + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "^" + "".join(out) + "$"


def excluded(path: str) -> bool:
    """Whether ``path`` (relative to the repository root) is left out of the context:
    a pattern matches the path or any directory above it; the last match wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for exclude, regex in dockerignore_patterns():
        if any(regex.match(candidate) for candidate in candidates):
            verdict = exclude
    return verdict


def test_build_context_holds_the_sources_and_nothing_local() -> None:
    for path in (
        "pyproject.toml",
        "README.md",
        "dpmesh/cli.py",
        "shared_kernel/__init__.py",
        "contexts/supply_chain/bootstrap.py",
    ):
        assert not excluded(path), f"{path} is needed to build the wheel"
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "var/supply_chain.db",
        "tests/deploy/test_deploy_files.py",
        "dpmesh/__pycache__",
        "dpmesh/__pycache__/cli.cpython-311.pyc",
        "contexts/supply_chain/var/demo.db",
        "deploy/docker-compose.yml",
    ):
        assert excluded(path), f"{path} should stay out of the build context"


def test_dockerfile_copies_every_package_of_the_wheel_from_the_context() -> None:
    copied: set[str] = set()
    for stage in dockerfile():
        for instruction in stage.all("COPY"):
            if "from" in instruction.flags():
                continue
            *sources, _ = instruction.words()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not excluded(source), f"COPY {source}: excluded by .dockerignore"
                copied.add(source.rstrip("/"))
    packages = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert set(packages) | {"pyproject.toml", "README.md"} <= copied


def test_access_control_is_on_with_a_key_only_the_catalog_holds() -> None:
    """The stack verifies tokens as the demo does: the catalog signs with a key made
    once in its own volume; every API verifies with the catalog's JWKS and holds no key."""
    every = services()
    key_service = every["auth-key"]
    assert key_service["command"][:1] == ["auth-key"]
    key_path = key_service["command"][1]
    catalog = every["catalog"]
    catalog_env = environment(catalog)
    assert catalog_env["DPMESH_AUTH_SIGNING_KEY_FILE"] == key_path
    assert catalog["depends_on"]["auth-key"]["condition"] == "service_completed_successfully"
    holders = [name for name, service in every.items() if "keys:" in str(service.get("volumes"))]
    assert sorted(holders) == ["auth-key", "catalog"]
    assert any(v.endswith(":ro") for v in catalog["volumes"] if v.startswith("keys:"))
    for name in ("supply-chain-api", "supply-chain-worker", "simulator"):
        env = environment(every[name])
        assert env["DPMESH_ENVIRONMENT"] == "demo", name
        assert env["DPMESH_AUTH_JWKS_URL"] == "http://catalog:8100/.well-known/jwks.json", name
        assert not any("SIGNING_KEY" in key or "JWT_SECRET" in key for key in env), name
