"""The ``factdesk`` command: serve the API, run workers, submit batches, analyse a file,
migrate the database, run benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx
from pydantic import ValidationError

from . import __version__, errors
from .schemas import AnalysisOptions, AnalysisRequest, AnalysisResponse
from .settings import Settings

EXIT_INPUT = 2
EXIT_MODEL = 3


def _settings(model: str | None = None) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"factdesk: invalid configuration:\n{exc}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT) from exc
    if model:
        settings = settings.model_copy(update={"model": model})
    return settings


def _maybe_start_local(settings: Settings, stack: ExitStack, log_path: Path | None) -> None:
    """Start the embedded model server when the configured model is the local default."""
    if not settings.is_local() or settings.local_server == "never":
        return
    from . import localmodel

    try:
        server = localmodel.start(settings, log_path)
    except localmodel.LocalModelError as exc:
        print(f"factdesk: cannot start the local model: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_MODEL) from exc
    stack.enter_context(server)


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from . import serving
    from .app import create_app

    settings = _settings(args.model)
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers or serving.usable_cores()
    settings = settings.model_copy(update={"workers": workers})
    # Worker processes build their settings from the environment: pass the command
    # line's choices down.
    os.environ["FACTDESK_WORKERS"] = str(workers)
    if args.model:
        os.environ["FACTDESK_MODEL"] = args.model
    with ExitStack() as stack:
        # Once, here: the workers share the one local model server.
        _maybe_start_local(settings, stack, Path(args.model_log) if args.model_log else None)
        app = create_app(settings) if workers == 1 else None
        # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit
        # lets the ExitStack stop the local model server instead of orphaning it.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print(
            f"FactDesk {__version__} on http://{host}:{port} (model {settings.model}, "
            f"{workers} worker{'s' if workers > 1 else ''}); docs at http://{host}:{port}/docs",
            file=sys.stderr,
        )
        serving.serve(host, port, workers, args.log_level, app)
    return 0


def cmd_model_server(args: argparse.Namespace) -> int:
    """Run the embedded llama.cpp server in the foreground (what ``serve`` starts itself)."""
    import os

    from . import localmodel

    settings = _settings()
    update: dict[str, object] = {}
    if args.host:
        update["local_model_host"] = args.host
    if args.port:
        update["local_model_port"] = args.port
    settings = settings.model_copy(update=update)
    try:
        cmd = localmodel.server_command(settings, localmodel.find_model_path(settings))
    except localmodel.LocalModelError as exc:
        print(f"factdesk: {exc}", file=sys.stderr)
        return EXIT_MODEL
    print(" ".join(cmd), file=sys.stderr)
    os.execv(cmd[0], cmd)
    return 0  # pragma: no cover - execv does not return


def cmd_models(args: argparse.Namespace) -> int:
    """``factdesk models list|fetch|verify``: the bundled local models and their files."""
    from . import models

    settings = _settings()
    if args.action == "list":
        default = settings.local_model
        for m in models.MODELS.values():
            mark = "*" if m.slug == default else " "
            print(
                f"{mark} {m.slug:<14} {m.title:<40} {m.size / 2**20:>6.0f} MiB  "
                f"{models.status(m, settings.model_cache)}"
            )
            print(f"    sha256 {m.sha256}; {m.licence}; {m.provenance}")
        print(f"(* = FACTDESK_LOCAL_MODEL; cache: {settings.model_cache})")
        return 0
    slugs = args.slugs or [settings.local_model]
    code = 0
    for slug in slugs:
        try:
            model = models.get(slug)
            if args.action == "fetch":
                path = models.fetch(model, settings.model_cache, progress=_progress(slug))
            else:
                path = models.cached_path(model, settings.model_cache)
                models.verify(model, path, full=True)
        except models.ModelFileError as exc:
            print(f"\rfactdesk: {exc}", file=sys.stderr)
            code = EXIT_MODEL
            continue
        print(f"\r{slug}: {path} ok (sha256 {model.sha256})")
    if args.action == "fetch":
        # the consistency scorer's encoder lives in the same cache (built, not downloaded)
        from .learned import consistency
        from .learned.encoder_build import ensure

        try:
            path = ensure(consistency.encoder_file())
        except ValueError as exc:
            print(f"factdesk: {exc}", file=sys.stderr)
            return EXIT_MODEL
        print(f"minilm-encoder: {path} ok (sha256 {consistency.ENCODER_SHA256})")
    return code


def _progress(label: str) -> Callable[[int, int], None]:
    last = [-1]

    def show(done: int, total: int) -> None:
        pct = done * 100 // max(total, 1)
        if pct != last[0] and sys.stderr.isatty():
            last[0] = pct
            print(f"\r{label}: assembling {pct:3d}%", end="", file=sys.stderr, flush=True)

    return show


def _read_input(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"factdesk: cannot read {path}: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT) from exc


def render_markdown(result: AnalysisResponse, title: str | None = None) -> str:
    """The analysis for a person: summary, claims with speaker and quote, flags."""
    icon = {"supported": "✔", "partially_supported": "◐", "unsupported": "✘"}
    lines: list[str] = [f"# {title}" if title else "# Analysis", ""]
    lines += ["## Summary", ""]
    for s in result.summary:
        origin = " (article sentence)" if s.origin == "rules" else ""
        lines.append(
            f"- {s.text} [{', '.join(s.sentences)}] {icon[s.verification.status]} "
            f"{s.verification.status.replace('_', ' ')}{origin}"
        )
    if result.rejected_summary:
        lines += ["", "Model summary sentences not shown (failed verification):", ""]
        for s in result.rejected_summary:
            why = "; ".join(r.message for r in s.verification.reasons)
            lines.append(f"- ~~{s.text}~~ — {why}")
    flags_by_id = {f.id: f for f in result.flags}
    lines += ["", f"## Claims ({len(result.claims)})", ""]
    for i, c in enumerate(result.claims, 1):
        who = c.speaker.name or "unattributed"
        if c.speaker.resolved and c.speaker.resolved != c.speaker.name:
            who = f"{who} → {c.speaker.resolved}"
        cue = f", {c.cue}" if c.cue else ""
        if c.polarity == "negated":
            lines.append(f"{i}. **NOT: {c.text}** (the source {c.cue or 'denies'} this)")
        else:
            lines.append(f"{i}. **{c.text}**")
        lines.append(f"   - who: {who} ({c.speaker.type}{cue})")
        if c.quote:
            lines.append(f"   - quote: “{c.quote.text}” (chars {c.quote.start}–{c.quote.end})")
        where = ", ".join(e.sentence_id or f"{e.start}-{e.end}" for e in c.evidence)
        lines.append(
            f"   - evidence: {where}; {icon[c.verification.status]} "
            f"{c.verification.status.replace('_', ' ')}"
        )
        for r in c.verification.reasons:
            lines.append(f"     - {r.message}")
        if c.flags:
            types = [flags_by_id[f].type for f in c.flags if f in flags_by_id]
            names = ", ".join(dict.fromkeys(types))
            lines.append(f"   - flags: {names}")
    if result.rejected_claims:
        lines += ["", f"## Rejected claims ({len(result.rejected_claims)})", ""]
        for rejected in result.rejected_claims:
            why = "; ".join(x.message for x in rejected.reasons)
            lines.append(f"- ~~{rejected.text}~~ — {why}")
    lines += ["", f"## Flags ({len(result.flags)})", ""]
    for f in result.flags:
        where = f"“{f.span.text}”" if f.span else ""
        lines.append(f"- **{f.type}** {where} [{', '.join(f.sentence_ids)}]: {f.message}")
    m = result.meta
    lines += [
        "",
        "---",
        f"model {m.model} · prompt {m.prompt_version} · attempts {m.attempts} · "
        f"tokens {m.usage.prompt_tokens}→{m.usage.completion_tokens} · "
        f"{m.timings_ms.total / 1000:.1f} s",
    ]
    for w in m.warnings:
        lines.append(f"- note: {w}")
    return "\n".join(lines) + "\n"


def cmd_analyze(args: argparse.Namespace) -> int:
    from .llm import LiteLLMClient
    from .pipeline import analyze

    settings = _settings(args.model)
    text = _read_input(args.file)
    try:
        request = AnalysisRequest(
            text=text,
            title=args.title,
            options=AnalysisOptions(summary_sentences=args.summary_sentences),
        )
    except ValidationError as exc:
        print(f"factdesk: invalid input: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if not text.strip():
        print("factdesk: the article is empty", file=sys.stderr)
        return EXIT_INPUT
    if len(text) > settings.max_text_chars:
        print(
            f"factdesk: the article has {len(text):,} characters; the limit is "
            f"{settings.max_text_chars:,} (FACTDESK_MAX_TEXT_CHARS)",
            file=sys.stderr,
        )
        return EXIT_INPUT
    with ExitStack() as stack:
        _maybe_start_local(settings, stack, None)
        try:
            result = asyncio.run(analyze(request, settings, LiteLLMClient(settings)))
        except errors.FactDeskError as exc:
            print(f"factdesk: {exc.title}: {exc.detail}", file=sys.stderr)
            return EXIT_MODEL if isinstance(exc, errors.ModelError) else EXIT_INPUT
    if args.format == "md":
        sys.stdout.write(render_markdown(result, args.title))
    else:
        sys.stdout.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        sys.stdout.write("\n")
    return 0


#: ``factdesk bench NAME``: (scoring module, what PATH is, whether PATH is a "dir", a
#: "file" or "either").
_BENCHES: dict[str, tuple[str, str, str]] = {
    "polnear": (
        "service.corpora.polnear",
        "a PolNeAR split directory (text/, attributions/)",
        "dir",
    ),
    "hedges": ("service.corpora.hedges", "a Szeged uncertainty JSONL file", "file"),
    "frank": (
        "service.corpora.frank",
        "a FRANK-style JSONL file (article, summary, label)",
        "file",
    ),
    "summedits": (
        "service.corpora.summedits",
        "a SummEdits directory of DOMAIN.jsonl files (or one such file)",
        "either",
    ),
}


def cmd_bench(args: argparse.Namespace) -> int:
    """Score the analyzers / verifier on a public annotated corpus."""
    import importlib

    path = Path(args.path)
    if not path.exists():
        print(f"factdesk: {path} does not exist", file=sys.stderr)
        return EXIT_INPUT
    name, wanted, kind = _BENCHES[args.corpus]
    if kind != "either" and path.is_dir() != (kind == "dir"):
        actual = "a directory" if path.is_dir() else "a file"
        print(f"factdesk: bench {args.corpus} reads {wanted}; {path} is {actual}", file=sys.stderr)
        return EXIT_INPUT
    module = importlib.import_module(name)
    try:
        result = module.score(path)
    except (ValueError, FileNotFoundError, UnicodeDecodeError, KeyError) as exc:
        print(f"factdesk: bench {args.corpus}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(module.format_table(result) + "\n")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the configured database to the newest schema revision."""
    from .storage import Store, database_url, migrate

    settings = _settings()
    store = Store.open(settings, migrate_now=False)
    before = migrate.current(store.engine)
    migrate.upgrade(store.engine, args.revision)
    after = migrate.current(store.engine)
    store.close()
    url = database_url(settings).split("@")[-1]
    print(f"database {url}: {before or 'empty'} -> {after}", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run batch workers on the shared queue (arq on FACTDESK_REDIS_URL)."""
    settings = _settings(args.model)
    if not settings.redis_url:
        print(
            "factdesk: `factdesk worker` needs FACTDESK_REDIS_URL (the shared queue); without "
            "it `factdesk serve` runs its own in-process worker",
            file=sys.stderr,
        )
        return EXIT_INPUT
    from .jobs.redis_queue import build_worker

    with ExitStack() as stack:
        _maybe_start_local(settings, stack, None)
        worker = build_worker(settings, args.concurrency, burst=args.burst)
        print(
            f"FactDesk worker on queue {settings.queue_name!r} "
            f"({args.concurrency or settings.worker_concurrency} at a time)",
            file=sys.stderr,
        )
        worker.run()
    return 0


def _client(args: argparse.Namespace) -> httpx.Client:
    import os

    base = args.api or os.environ.get("FACTDESK_API_URL") or "http://127.0.0.1:8000"
    key = args.key or os.environ.get("FACTDESK_CLIENT_KEY")
    headers = {"X-API-Key": key} if key else {}
    return httpx.Client(base_url=base, headers=headers, timeout=60.0, trust_env=False)


def _fail(response: httpx.Response) -> int:
    try:
        body = response.json()
        why = f"{body.get('title')}: {body.get('detail')}"
    except ValueError:
        why = response.text[:300]
    print(f"factdesk: HTTP {response.status_code}: {why}", file=sys.stderr)
    return EXIT_INPUT if response.status_code < 500 else EXIT_MODEL


def _batch_progress(view: dict[str, object], width: int = 30) -> str:
    counts = view["counts"]
    assert isinstance(counts, dict)
    total = max(1, int(counts["total"]))
    done = int(counts["completed"]) + int(counts["failed"]) + int(counts["cancelled"])
    filled = round(width * done / total)
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
        f"{view['status']}: {counts['completed']} completed, {counts['failed']} failed, "
        f"{counts['running']} running"
    )


def _wait(client: httpx.Client, batch_id: str, poll_s: float) -> dict[str, object]:
    import time

    while True:
        r = client.get(f"/v1/batches/{batch_id}", params={"items": "false"})
        r.raise_for_status()
        view: dict[str, object] = r.json()
        sys.stderr.write(_batch_progress(view))
        sys.stderr.flush()
        if view["status"] in ("completed", "failed", "cancelled"):
            sys.stderr.write("\n")
            return view
        time.sleep(poll_s)


def cmd_batch(args: argparse.Namespace) -> int:
    """Submit a JSONL file as a batch, follow it, fetch its results."""
    with _client(args) as client:
        try:
            if args.action == "submit":
                items = []
                for n, line in enumerate(_read_input(args.target).splitlines(), 1):
                    if line.strip():
                        try:
                            items.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            print(f"factdesk: line {n} is not JSON: {exc}", file=sys.stderr)
                            return EXIT_INPUT
                body: dict[str, object] = {"items": items}
                if args.callback_url:
                    body["callback_url"] = args.callback_url
                r = client.post("/v1/batches", json=body)
                if r.status_code != 202:
                    return _fail(r)
                batch_id = r.json()["id"]
                print(batch_id)
                if args.wait:
                    view = _wait(client, batch_id, args.poll)
                    return 0 if view["status"] == "completed" else EXIT_MODEL
                return 0
            if args.action == "status":
                r = client.get(f"/v1/batches/{args.target}")
                if r.status_code != 200:
                    return _fail(r)
                sys.stdout.write(json.dumps(r.json(), indent=2) + "\n")
                return 0
            if args.action == "cancel":
                r = client.post(f"/v1/batches/{args.target}/cancel", json={})
                if r.status_code != 200:
                    return _fail(r)
                print(r.json()["status"])
                return 0
            with client.stream("GET", f"/v1/batches/{args.target}/results") as r:
                if r.status_code != 200:
                    r.read()
                    return _fail(r)
                for chunk in r.iter_bytes():
                    sys.stdout.buffer.write(chunk)
            return 0
        except httpx.HTTPError as exc:
            print(f"factdesk: cannot reach the API at {client.base_url}: {exc}", file=sys.stderr)
            return EXIT_MODEL


def _register_ops(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema (Alembic migrations)")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="migrate the configured database to the newest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    worker = sub.add_parser("worker", help="run batch workers on the shared queue (Redis)")
    worker.add_argument(
        "--concurrency", type=int, help="items at once (FACTDESK_WORKER_CONCURRENCY)"
    )
    worker.add_argument("--model", help="litellm model string (default: FACTDESK_MODEL)")
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.set_defaults(func=cmd_worker)

    batch = sub.add_parser("batch", help="submit, follow and fetch batch jobs over the API")
    batch.add_argument("action", choices=["submit", "status", "results", "cancel"])
    batch.add_argument("target", help="submit: a JSONL file (or -); else: the batch id")
    batch.add_argument("--wait", action="store_true", help="submit: follow with a progress bar")
    batch.add_argument("--poll", type=float, default=0.5, help="seconds between status checks")
    batch.add_argument("--callback-url", help="submit: webhook for the finished batch")
    batch.add_argument("--api", help="API base URL (FACTDESK_API_URL, default 127.0.0.1:8000)")
    batch.add_argument("--key", help="API key (FACTDESK_CLIENT_KEY)")
    batch.set_defaults(func=cmd_batch)


def _register_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``factdesk train NAME ...``: one sub-command per learned component."""
    import importlib

    from .learned import TRAINERS

    train = sub.add_parser("train", help="train a learned component (fixed seed, logged)")
    which = train.add_subparsers(dest="component", required=True)
    for name, module_name in sorted(TRAINERS.items()):
        module = importlib.import_module(module_name)
        parser = which.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(parser)
        parser.set_defaults(func=module.train)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="factdesk", description="FactDesk: verified analysis of news articles."
    )
    parser.add_argument("--version", action="version", version=f"factdesk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API (starts the local model if needed)")
    serve.add_argument("--host", help="default: FACTDESK_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: FACTDESK_PORT or 8000")
    serve.add_argument("--model", help="litellm model string (default: FACTDESK_MODEL)")
    serve.add_argument("--model-log", help="file for the local model server's output")
    serve.add_argument(
        "--workers",
        type=int,
        choices=range(1, 257),
        metavar="N",
        help="worker processes (default: FACTDESK_WORKERS or one per core)",
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    ms = sub.add_parser("model-server", help="run the embedded local model server (foreground)")
    ms.add_argument("--host", help="default: FACTDESK_LOCAL_MODEL_HOST or 127.0.0.1")
    ms.add_argument("--port", type=int, help="default: FACTDESK_LOCAL_MODEL_PORT or 8081")
    ms.set_defaults(func=cmd_model_server)

    an = sub.add_parser("analyze", help="analyse an article file (or - for stdin)")
    an.add_argument("file", help="path to a plain-text article, or - for stdin")
    an.add_argument("--format", choices=["json", "md"], default="json")
    an.add_argument("--model", help="litellm model string (default: FACTDESK_MODEL)")
    an.add_argument("--title")
    an.add_argument(
        "--summary-sentences", type=int, default=3, choices=range(1, 11), metavar="{1..10}"
    )
    an.set_defaults(func=cmd_analyze)
    bench = sub.add_parser("bench", help="score the rules and verifier on a public corpus")
    bench.add_argument("corpus", choices=sorted(_BENCHES), help="which corpus format")
    bench.add_argument(
        "path",
        help="; ".join(f"{name}: {desc}" for name, (_, desc, _) in sorted(_BENCHES.items())),
    )
    bench.add_argument("--json", action="store_true", help="print the metrics as JSON")
    bench.set_defaults(func=cmd_bench)
    mo = sub.add_parser("models", help="the bundled local models: list, fetch (assemble), verify")
    mo.add_argument("action", choices=["list", "fetch", "verify"])
    mo.add_argument("slugs", nargs="*", help="model slugs (default: FACTDESK_LOCAL_MODEL)")
    mo.set_defaults(func=cmd_models)
    _register_ops(sub)
    _register_train(sub)
    from evals.cli import register as register_evals

    register_evals(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``factdesk`` command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
