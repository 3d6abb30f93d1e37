"""The fastest ConversionService a Python grpc.aio server can be: empty handlers.

``make bench`` drives this server and the real service with identical load, so
the ratio between the two shows what the normalization itself costs on top of
the gRPC stack. Every handler answers with an empty message; nothing is
parsed beyond what grpc.aio does for any call.

Usage:
  python scripts/baseline_server.py [--host 127.0.0.1] [--port 0]

It prints ``baseline serving on port N`` once it listens and exits 0 on
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator

import grpc

from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc


class EmptyServicer(pb_grpc.ConversionServiceServicer):
    """Answers every call with an empty response and does no work."""

    async def Normalize(
        self, request: pb.NormalizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.NormalizeResponse:
        """An empty NormalizeResponse."""
        return pb.NormalizeResponse()

    async def Classify(
        self, request: pb.ClassifyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClassifyResponse:
        """An empty ClassifyResponse."""
        return pb.ClassifyResponse()

    async def NormalizeStream(
        self,
        request_iterator: AsyncIterator[pb.NormalizeStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.NormalizeStreamResponse]:
        """One empty NormalizeStreamResponse per request."""
        async for _ in request_iterator:
            yield pb.NormalizeStreamResponse()


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    server = grpc.aio.server()
    pb_grpc.add_ConversionServiceServicer_to_server(EmptyServicer(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    print(f"baseline serving on port {bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(None)


def main(argv: list[str]) -> int:
    """Parse the flags and serve."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
