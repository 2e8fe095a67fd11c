"""The FactDesk API under benchmark: ``create_app(Settings())`` served by uvicorn on
127.0.0.1, configured only through ``FACTDESK_*`` environment variables (the benchmark
points ``FACTDESK_API_BASE`` at a model server it started). Equivalent to
``factdesk serve --workers 1`` with ``FACTDESK_LOCAL_SERVER=never``, without access logs.

Run: ``python -m benchmarks.api_server --port 9000``.
"""

from __future__ import annotations

import argparse

import uvicorn

from service.app import create_app
from service.settings import Settings


def main() -> None:
    """Serve the API in this process (one uvicorn worker) until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(Settings()),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=1024,
    )


if __name__ == "__main__":
    main()
