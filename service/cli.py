"""``python -m service normalize``: the service's answer for one payload, offline.

For support engineers replaying a postback: it prints the same JSON the
Normalize RPC returns (proto3 JSON mapping), or the rejection's reason and
message on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from service import config
from service.convert import (
    context_from_proto,
    payload_from_proto,
    rejection_to_status,
    result_to_proto,
)
from service.core.model import Rejection
from service.core.normalize import normalize, now_utc
from service.gen.conversions.v1 import conversion_service_pb2 as pb

EXIT_REJECTED = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service normalize",
        description=(
            "Normalize one postback offline and print the NormalizeResponse as JSON. "
            "With neither --query nor --body-file, the body is read from stdin."
        ),
    )
    parser.add_argument("--query", default="", help="raw query string, e.g. 'click_id=1&value=5'")
    parser.add_argument("--body-file", type=Path, help="file holding the raw HTTP body")
    parser.add_argument("--content-type", default="", help="Content-Type of the body")
    parser.add_argument("--json", dest="json_object", help="a JSON object sent as payload.json")
    parser.add_argument("--account-id", default="", help="context.account_id")
    parser.add_argument("--integration-slug", default="", help="context.integration_slug")
    parser.add_argument("--received-time", help="context.received_time, RFC 3339")
    parser.add_argument(
        "--default-currency",
        help="server default currency (default USD); env CONVERSIONS_DEFAULT_CURRENCY",
    )
    return parser


def build_request(args: argparse.Namespace, stdin: bytes | None) -> pb.NormalizeRequest:
    """The NormalizeRequest the flags describe."""
    request = pb.NormalizeRequest()
    request.payload.query = args.query
    request.payload.content_type = args.content_type
    if args.body_file is not None:
        request.payload.body = args.body_file.read_bytes()
    elif stdin is not None:
        request.payload.body = stdin
    if args.json_object is not None:
        json_format.Parse(args.json_object, request.payload.json)
    request.context.account_id = args.account_id
    request.context.integration_slug = args.integration_slug
    if args.received_time:
        stamp = Timestamp()
        stamp.FromJsonString(args.received_time)
        request.context.received_time.CopyFrom(stamp)
    return request


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run the command; 0 with a conversion, 2 on a rejection."""
    parser = _parser()
    args = parser.parse_args(argv)
    server_settings = config.load(
        ["--default-currency", args.default_currency] if args.default_currency else [], environ
    )
    reads_stdin = not args.query and args.body_file is None and args.json_object is None
    try:
        request = build_request(args, sys.stdin.buffer.read() if reads_stdin else None)
    except (OSError, ValueError, json_format.ParseError) as error:
        parser.error(str(error))
    try:
        result = normalize(
            payload_from_proto(request.payload),
            context_from_proto(request.context),
            default_currency=server_settings.default_currency,
            received=now_utc(),
        )
    except Rejection as rejection:
        status = json_format.MessageToDict(rejection_to_status(rejection))
        print(f"{rejection.reason.value}: {rejection.message}", file=sys.stderr)
        print(json.dumps(status, indent=2), file=sys.stderr)
        return EXIT_REJECTED
    print(json_format.MessageToJson(result_to_proto(result), indent=2))
    return 0
