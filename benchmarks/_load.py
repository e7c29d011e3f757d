"""A small HTTP/1.1 load generator for the benchmarks: N keep-alive connections, each sending
one request after another for a fixed time, run in its own process. Prints JSON.

    python -m benchmarks._load URL --seconds 3 --connections 16 --header "Authorization: Bearer ..."
"""

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlsplit


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if status in (204, 304):
        return status
    if headers.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return status
    await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status


async def _connection(host, port, request: bytes, warmup_until: float, stop_at: float, statuses: Counter):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            now = time.monotonic()
            if now >= stop_at:
                return
            writer.write(request)
            status = await _read_response(reader)
            if now >= warmup_until:
                statuses[status] += 1
    finally:
        writer.close()


async def run(url: str, seconds: float, connections: int, headers: list[str], warmup: float) -> dict:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}", *headers, "", ""]
    request = "\r\n".join(lines).encode()
    statuses: Counter = Counter()
    start = time.monotonic()
    warmup_until, stop_at = start + warmup, start + warmup + seconds
    await asyncio.gather(
        *[_connection(parts.hostname, parts.port, request, warmup_until, stop_at, statuses) for _ in range(connections)]
    )
    total = sum(statuses.values())
    return {"requests": total, "rps": total / seconds, "statuses": {str(k): v for k, v in statuses.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.seconds, args.connections, args.header, args.warmup))))


if __name__ == "__main__":
    main()
