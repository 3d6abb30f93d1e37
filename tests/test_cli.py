"""``python -m service normalize``, run as support engineers run it: a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc

RECEIVED = "2024-05-01T12:00:00Z"
EXIT_REJECTED = 2


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the offline normalizer in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "service", "normalize", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def conversion_of(completed: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    assert completed.returncode == 0, completed.stderr.decode()
    output: dict[str, Any] = json.loads(completed.stdout)
    return output


def test_query() -> None:
    completed = run_cli(
        "--query",
        "clickid=abc&amount=$1,234.50&cur=eur&utm_source=x",
        "--received-time",
        RECEIVED,
    )
    output = conversion_of(completed)
    conversion = output["conversion"]
    assert conversion["clickId"] == "abc"
    assert conversion["value"] == "1234.5"
    assert conversion["valueParameter"] == "amount"
    assert conversion["currency"] == "EUR"
    assert conversion["eventTime"] == RECEIVED
    assert output["diagnostics"] == [
        {
            "code": "DIAGNOSTIC_CODE_UNKNOWN_PARAMETER",
            "parameter": "utm_source",
            "message": output["diagnostics"][0]["message"],
        }
    ]


def test_body_file_with_content_type(tmp_path: Path) -> None:
    order = tmp_path / "order.json"
    order.write_text(
        json.dumps(
            {
                "click_id": "f8e3",
                "conversion_type": "purchase",
                "transaction_id": 24356562534585,
                "items": [{"id": "20291", "price": "20.00", "qty": 1}],
            }
        )
    )
    completed = run_cli(
        "--body-file",
        str(order),
        "--content-type",
        "application/json",
        "--account-id",
        "acct-42",
        "--integration-slug",
        "shop",
    )
    conversion = conversion_of(completed)["conversion"]
    assert conversion["eventName"] == "Purchase"
    assert conversion["transactionId"] == "24356562534585"
    assert conversion["items"] == [{"id": "20291", "price": "20", "quantity": "1"}]
    assert len(conversion["dedupKey"]) == 64


def test_form_body_from_stdin() -> None:
    completed = run_cli(
        "--content-type",
        "application/x-www-form-urlencoded",
        stdin=b"ref=r-1&commission=4.20&xat_offer=77\n",
    )
    conversion = conversion_of(completed)["conversion"]
    assert conversion["refId"] == "r-1"
    assert conversion["eventName"] == "Purchase"
    assert conversion["passthrough"] == {"offer": "77"}


def test_json_body_from_stdin_is_sniffed() -> None:
    completed = run_cli(stdin=b'{"click_id": "x", "value": 3}')
    conversion = conversion_of(completed)["conversion"]
    assert conversion["clickId"] == "x"
    assert conversion["value"] == "3"


def test_json_flag() -> None:
    completed = run_cli("--json", '{"email": "A@B.co", "value": 120.0, "currency": "usd"}')
    conversion = conversion_of(completed)["conversion"]
    assert conversion["matchKey"] == {"type": "MATCH_KEY_TYPE_EMAIL", "value": "a@b.co"}
    assert conversion["value"] == "120"
    assert conversion["currency"] == "USD"


def test_default_currency_flag() -> None:
    completed = run_cli("--query", "click=c", "--default-currency", "eur")
    conversion = conversion_of(completed)["conversion"]
    assert conversion["currency"] == "EUR"
    assert conversion["currencyDefaulted"] is True


def test_rejection_prints_reason_and_exits_2() -> None:
    completed = run_cli("--query", "value=5")
    assert completed.returncode == EXIT_REJECTED
    assert completed.stdout == b""
    stderr = completed.stderr.decode()
    first_line, _, status_text = stderr.partition("\n")
    assert first_line.startswith("MISSING_MATCH_KEY: Missing click_id, ref_id and email")
    status = json.loads(status_text)
    assert status["code"] == 3
    assert status["details"][0]["reason"] == "MISSING_MATCH_KEY"


def test_unknown_conversion_type_and_malformed_body_exit_2() -> None:
    unknown = run_cli("--query", "click=c&conversion_type=refund")
    assert unknown.returncode == EXIT_REJECTED
    assert unknown.stderr.decode().startswith(
        "UNKNOWN_CONVERSION_TYPE: Unknown conversion_type: refund"
    )
    malformed = run_cli("--content-type", "application/json", stdin=b'{"click": 1,,}')
    assert malformed.returncode == EXIT_REJECTED
    assert malformed.stderr.decode().startswith("MALFORMED_PAYLOAD: The JSON body is invalid")


async def test_prints_what_the_rpc_returns(stub: pb_grpc.ConversionServiceStub) -> None:
    query = "click_id=c1&conversion_type=sale&value=1.234,50%20EUR&transaction_id=T1&xat_a=1"
    args = ["--query", query, "--received-time", RECEIVED, "--account-id", "acct"]
    completed = run_cli(*args)
    request = pb.NormalizeRequest(payload=pb.Payload(query=query))
    request.context.account_id = "acct"
    request.context.received_time.FromJsonString(RECEIVED)
    response = await stub.Normalize(request)
    assert conversion_of(completed) == json_format.MessageToDict(response)
