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


def alternate(targets: dict[str, tuple[str, list[str]]], rounds: int) -> dict:
    """One connection, the targets' requests one after the other, `rounds` times: the median
    latency of each. Paired this way, a neighbour's load falls on every target alike."""
    parts = urlsplit(next(iter(targets.values()))[0])

    async def measure():
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        requests = {}
        for name, (url, headers) in targets.items():
            target = urlsplit(url)
            path = target.path + (f"?{target.query}" if target.query else "")
            lines = [f"GET {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}", *headers, "", ""]
            requests[name] = "\r\n".join(lines).encode()
        latencies = {name: [] for name in targets}
        for _ in range(rounds):
            for name, request in requests.items():
                started = time.perf_counter()
                writer.write(request)
                await _read_response(reader)
                latencies[name].append(time.perf_counter() - started)
        writer.close()
        return {name: sorted(values)[len(values) // 2] * 1e6 for name, values in latencies.items()}

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", help="a URL, or with --alternate a JSON object {name: [url, [headers]]}")
    parser.add_argument("--alternate", type=int, metavar="ROUNDS", help="median latency per target, paired")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    if args.alternate:
        print(json.dumps(alternate(json.loads(args.url), args.alternate)))
        return
    print(json.dumps(asyncio.run(run(args.url, args.seconds, args.connections, args.header, args.warmup))))


if __name__ == "__main__":
    main()
