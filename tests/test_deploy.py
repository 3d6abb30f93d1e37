"""The Dockerfile and Kubernetes manifests agree with the server they deploy.

Ports, probes and environment are checked against :mod:`service.config` (the
environment goes through the real config loader), and the image's health check
command is run against a live server.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import yaml

from service import config
from service.config import SERVICE_NAME, Config
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.server import HEALTH_SERVICES, Running, build_server
from tests.process import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DEFAULTS = Config()
KUSTOMIZATION = "kustomization.yaml"


def _documents() -> list[dict[str, Any]]:
    """Every Kubernetes object of deploy/k8s (the kustomization is not one)."""
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == KUSTOMIZATION:
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert isinstance(document, dict), path
            documents.append(document)
    return documents


def _one(kind: str, name: str = "conversions-normalizer") -> dict[str, Any]:
    [found] = [d for d in _documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _container() -> dict[str, Any]:
    containers: list[dict[str, Any]] = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    [container] = containers
    return container


def _ports(container: dict[str, Any]) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in container["ports"]}


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (instruction.upper(), rest.strip())
        for instruction, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if instruction
    ]


def _instructions(name: str) -> list[str]:
    return [rest for instruction, rest in _dockerfile() if instruction == name]


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in _instructions("ENV"):
        for item in shlex.split(rest):
            name, _, value = item.partition("=")
            env[name] = value
    return env


def test_every_manifest_parses_and_is_listed_in_the_kustomization() -> None:
    documents = _documents()
    for document in documents:
        assert {"apiVersion", "kind", "metadata"} <= document.keys()
        assert document["metadata"]["name"].startswith("conversions-normalizer")
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
        "Service",
    ]
    kustomization = yaml.safe_load((K8S / KUSTOMIZATION).read_text())
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {KUSTOMIZATION}


def test_deployment_ports_and_probes_match_the_server_defaults() -> None:
    container = _container()
    ports = _ports(container)
    assert ports["grpc"] == DEFAULTS.port
    readiness = container["readinessProbe"]["grpc"]
    liveness = container["livenessProbe"]["grpc"]
    assert readiness["port"] == DEFAULTS.port
    assert liveness["port"] == DEFAULTS.port
    # The names the server reports health for: "" (whole server) and the service.
    assert readiness["service"] == SERVICE_NAME
    assert liveness.get("service", "") in HEALTH_SERVICES


def test_deployment_environment_is_valid_server_configuration() -> None:
    container = _container()
    env = _env(container)
    assert all(name.startswith(config.ENV_PREFIX) for name in env)
    settings = config.load([], env)
    assert settings.port == _ports(container)["grpc"]
    assert settings.metrics_port == _ports(container)["metrics"]
    assert settings.log_format == "json"
    assert settings.max_connection_age > 0, "client-side balancing needs connections to cycle"
    annotations = _one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.metrics_port)
    # SIGTERM comes after preStop; grace must end before the kubelet kills the pod.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    pod = _one("Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + settings.grace


def test_pods_run_as_the_image_user_without_privileges() -> None:
    pod = _one("Deployment")["spec"]["template"]["spec"]
    [user] = _instructions("USER")
    uid = int(user.split(":")[0])
    assert uid != 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    security = _container()["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]


def test_services_hpa_and_pdb_point_at_the_deployment() -> None:
    deployment = _one("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    named_ports = _ports(_container())

    service = _one("Service")
    headless = _one("Service", "conversions-normalizer-headless")
    assert headless["spec"]["clusterIP"] == "None"
    for svc in (service, headless):
        assert svc["spec"]["selector"].items() <= pod_labels.items()
        grpc_port = next(p for p in svc["spec"]["ports"] if p["name"] == "grpc")
        assert grpc_port["port"] == DEFAULTS.port
        assert named_ports[grpc_port["targetPort"]] == DEFAULTS.port
        assert grpc_port["appProtocol"] == "kubernetes.io/h2c"

    hpa = _one("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]

    pdb = _one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_dockerfile_is_slim_non_root_and_exposes_the_server_ports() -> None:
    bases = _instructions("FROM")
    assert bases
    for base in bases:
        assert re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim( AS \w+)?", base), base
    [user] = _instructions("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert any(
        "useradd" in run and f"--uid {user.split(':')[0]}" in run for run in _instructions("RUN")
    )
    exposed = {int(port) for rest in _instructions("EXPOSE") for port in rest.split()}
    env = _dockerfile_env()
    settings = config.load([], {k: v for k, v in env.items() if k.startswith(config.ENV_PREFIX)})
    assert exposed == {DEFAULTS.port, settings.metrics_port}
    assert settings.log_format == "json"
    assert _ports(_container())["metrics"] == settings.metrics_port
    [entrypoint] = _instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["conversions-normalizer"]


def _healthcheck_command() -> list[str]:
    [healthcheck] = _instructions("HEALTHCHECK")
    return list(json.loads(healthcheck.partition(" CMD ")[2]))


@pytest.fixture
async def local_server() -> AsyncIterator[Running]:
    running = await build_server(Config(host="127.0.0.1", port=0))
    try:
        yield running
    finally:
        await running.server.stop(None)


async def _probe(command: list[str], port: int) -> tuple[int, str]:
    assert command[0] == "python"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        cwd=ROOT,
        env={"CONVERSIONS_HOST": "127.0.0.1", "CONVERSIONS_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.slow
async def test_the_image_health_check_command_probes_the_grpc_health_service(
    local_server: Running,
) -> None:
    command = _healthcheck_command()
    assert command == ["python", "-m", "service", "health"]
    code, out = await _probe(command, local_server.port)
    assert (code, out.strip()) == (0, f"127.0.0.1:{local_server.port}: SERVING")

    await local_server.health.enter_graceful_shutdown()
    code, out = await _probe([*command, "--service", SERVICE_NAME], local_server.port)
    assert code == 1
    assert "NOT_SERVING" in out


@pytest.mark.slow
async def test_the_health_check_fails_when_nothing_listens() -> None:
    running = await build_server(Config(host="127.0.0.1", port=0))
    port = running.port
    await running.server.stop(None)
    code, out = await _probe([*_healthcheck_command(), "--timeout", "1"], port)
    assert code == 1
    assert "UNAVAILABLE" in out or "DEADLINE_EXCEEDED" in out


async def test_connection_age_cycles_connections_without_cutting_streams() -> None:
    running = await build_server(Config(host="127.0.0.1", port=0, max_connection_age=0.3))
    request = pb.NormalizeRequest(payload=pb.Payload(query="click_id=c1"))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.ConversionServiceStub(channel)
            stream = stub.NormalizeStream()
            await stream.write(pb.NormalizeStreamRequest(request_id="1", request=request))
            assert (await stream.read()).request_id == "1"
            # Past the age the server sends GOAWAY: the channel will reconnect
            # for its next call, while the open stream goes on.
            for _ in range(50):
                if channel.get_state() is grpc.ChannelConnectivity.IDLE:
                    break
                await asyncio.sleep(0.05)
            assert channel.get_state() is grpc.ChannelConnectivity.IDLE
            await stream.write(pb.NormalizeStreamRequest(request_id="2", request=request))
            assert (await stream.read()).request_id == "2"
            await stream.done_writing()
            assert await stream.code() == grpc.StatusCode.OK
            assert (await stub.Normalize(request)).conversion.click_id == "c1"
    finally:
        await running.server.stop(None)
