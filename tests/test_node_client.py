"""A second-language client: the Node.js client in clients/node against a real server.

It loads the contract from proto/ with @grpc/proto-loader, sends the token as
metadata, and decodes a rejection's ErrorInfo from grpc-status-details-bin
with protobufjs. Its npm dependencies are installed from the committed lock
file (``npm ci``) when missing, as on a fresh CI machine.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import google.rpc.status_pb2
import grpc_tools
import pytest

from service.config import Config
from service.server import Running, build_server
from tests.process import ROOT

NODE_CLIENT = ROOT / "clients" / "node"
NODE = shutil.which("node")
TOKEN = "node-client-token"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NODE is None, reason="node is not on PATH"),
]


def _proto_paths() -> list[Path]:
    """The contract, then the installed googleapis and well-known protos (nothing copied)."""
    googleapis = Path(google.rpc.status_pb2.__file__).resolve().parent.parent.parent
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [ROOT / "proto", googleapis, well_known]


@pytest.fixture(scope="module")
def node_client() -> Path:
    """clients/node with its dependencies installed exactly as the lock file pins them."""
    if not (NODE_CLIENT / "node_modules" / ".package-lock.json").is_file():
        npm = shutil.which("npm")
        assert npm is not None, "node is on PATH but npm is not"
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=NODE_CLIENT,
            check=True,
            timeout=300,
        )
    return NODE_CLIENT / "client.js"


@pytest.fixture
async def guarded() -> AsyncIterator[Running]:
    running = await build_server(Config(host="127.0.0.1", port=0, auth_token=TOKEN))
    try:
        yield running
    finally:
        await running.server.stop(None)


async def _run_client(script: Path, port: int, *extra: str) -> tuple[int, str, str]:
    assert NODE is not None
    arguments = ["--address", f"127.0.0.1:{port}", *extra]
    for directory in _proto_paths():
        arguments += ["--proto-path", str(directory)]
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(script),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_node_client_normalizes_classifies_and_reads_error_info(
    node_client: Path, guarded: Running
) -> None:
    code, out, err = await _run_client(node_client, guarded.port, "--token", TOKEN)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)

    normalized = result["normalize"]
    assert normalized["event_name"] == "Purchase"
    assert normalized["standard_event"] == "STANDARD_EVENT_PURCHASE"
    assert normalized["value"] == "120"
    assert normalized["currency"] == "USD"
    assert normalized["match_key"] == {
        "type": "MATCH_KEY_TYPE_CLICK_ID",
        "value": "f8e3bf8dfba8b51ce3340",
    }
    assert normalized["transaction_id"] == "24356562534585"
    assert len(normalized["dedup_key"]) == 64

    from_body = result["normalizeBody"]
    assert (from_body["value"], from_body["value_parameter"], from_body["currency"]) == (
        "1234.5",
        "amount",
        "EUR",
    )

    classified = result["classify"]
    assert classified["event_name"] == "Purchase"
    assert classified["classified_by"] == "CLASSIFICATION_SOURCE_AUTOMATIC"

    rejection = result["rejection"]
    assert rejection["code"] == 3
    assert rejection["codeName"] == "INVALID_ARGUMENT"
    assert rejection["message"].startswith("Missing click_id, ref_id and email")
    assert rejection["detailTypes"] == ["google.rpc.ErrorInfo", "google.rpc.BadRequest"]
    assert rejection["errorInfo"]["reason"] == "MISSING_MATCH_KEY"
    assert rejection["errorInfo"]["domain"] == "conversions.v1"
    assert "click_id" in rejection["errorInfo"]["metadata"]["acceptedParameters"]
    assert rejection["badRequest"]["field_violations"][0]["field"] == "payload"

    assert result["stream"] == [
        {
            "request_id": "a",
            "result": "response",
            "event_name": "Lead",
            "error_code": None,
            "error_reason": None,
        },
        {
            "request_id": "b",
            "result": "error",
            "event_name": None,
            "error_code": 3,
            "error_reason": "MISSING_MATCH_KEY",
        },
    ]


async def test_node_client_without_the_token_is_refused(
    node_client: Path, guarded: Running
) -> None:
    code, _, err = await _run_client(node_client, guarded.port)
    assert code == 1
    assert "UNAUTHENTICATED" in err or "Missing credentials" in err
