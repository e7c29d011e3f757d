"""A lean websocket client for benchmarks/dashboard.py's fan-out, in a process of its own so
that measuring 200 sockets costs the server's process nothing and the benchmark's little.

    python -m benchmarks._wsclient WS_URL --sockets 200 --cookie sessionid=... --origin http://...

It opens every socket at once, reads each one's hello, and prints `ready`. Then, for each
line `MARKER` on its standard input, it arms every socket to note the moment (monotonic
clock, the same as the benchmark's `time.monotonic()`) of the first message containing
MARKER, prints `armed`, and once every socket has one (or after 10 s), prints them as a
JSON list. Messages between measurements are read and dropped.
"""

import argparse
import asyncio
import json
import sys
import time

import websockets

RECEIPT_TIMEOUT = 10.0


class Socket:
    def __init__(self, connection):
        self.connection = connection
        self.marker: str | None = None
        self.arrived: asyncio.Future | None = None

    def arm(self, marker: str) -> asyncio.Future:
        self.marker = marker
        self.arrived = asyncio.get_running_loop().create_future()
        return self.arrived

    async def read(self) -> None:
        async for message in self.connection:
            if self.marker is not None and self.marker in message:
                self.arrived.set_result(time.monotonic())
                self.marker = None


async def main(url: str, sockets: int, cookie: str, origin: str) -> None:
    headers = {"Cookie": cookie}
    connections = await asyncio.gather(
        *(websockets.connect(url, additional_headers=headers, origin=origin, max_size=None) for _ in range(sockets))
    )
    for connection in connections:
        await connection.recv()  # hello
    clients = [Socket(connection) for connection in connections]
    readers = [asyncio.create_task(client.read()) for client in clients]
    stdin = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    print("ready", flush=True)
    while line := (await stdin.readline()).decode().rstrip("\n"):
        waiting = [client.arm(line) for client in clients]
        print("armed", flush=True)
        done, _ = await asyncio.wait(waiting, timeout=RECEIPT_TIMEOUT)
        print(json.dumps([f.result() if f in done else None for f in waiting]), flush=True)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--cookie", required=True)
    parser.add_argument("--origin", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.sockets, args.cookie, args.origin))
