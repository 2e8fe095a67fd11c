"""Probe ``GET /healthz`` at a fixed interval from a process of its own (so the load
generator's event loop does not delay the probe) and print the latencies as JSON.

Each probe opens a new connection, as a load balancer's health check does. Bounded by
``--duration`` seconds. Run: ``python -m benchmarks.healthz_probe URL --duration 10``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from urllib.parse import urlsplit


def probe(host: str, port: int, path: str, timeout_s: float = 5.0) -> bool:
    """One ``GET path`` on a new connection (plain socket: no client-side setup cost in
    the measured time); True when it answered 200."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.startswith(b"HTTP/1.1 200 ")


def main() -> None:
    """Probe until the duration is over; print ``{"ms": [...], "failed": n}``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    latencies: list[float] = []
    failed = 0
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        t0 = time.perf_counter()
        try:
            ok = probe(host, port, url.path or "/")
        except OSError:
            ok = False
        if ok:
            latencies.append((time.perf_counter() - t0) * 1000)
        else:
            failed += 1
        time.sleep(max(0.0, args.interval - (time.perf_counter() - t0)))
    json.dump({"ms": latencies, "failed": failed}, sys.stdout)


if __name__ == "__main__":
    main()
