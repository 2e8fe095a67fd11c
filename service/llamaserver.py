"""``python -m service.llamaserver``: llama.cpp's native HTTP server for one GGUF file.

Runs the OpenAI-compatible server of the prebuilt ``xllamacpp`` wheel in this process
until SIGTERM/SIGINT (or until the parent dies: see
:func:`service.localmodel.die_with_parent`). Started by :func:`service.localmodel.start`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until told to stop; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m service.llamaserver")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", default="local")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=1)
    args = parser.parse_args(argv)

    from .localmodel import die_with_parent

    die_with_parent()
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cache_prompt = True
    params.endpoint_metrics = True
    if args.threads > 0:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    # The server holds no state worth a graceful teardown, and llama.cpp's shutdown can
    # block on its HTTP threads: on SIGTERM/SIGINT (or the parent's death) leave at once.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    server = xllamacpp.Server(params)
    print(f"serving {args.model} as {args.alias!r} at {server.listening_address}", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
