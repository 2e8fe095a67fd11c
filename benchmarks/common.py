"""Shared pieces of the benchmarks: articles, a realistic model reply, an instant fake
model, statistics, machine facts, free ports, child processes and their memory."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from service.errors import Usage
from service.llm import Completion, CompletionRequest
from service.text import prepare

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SEED_ARTICLE = SHARED_DATA / "seed" / "baghuz-voa-2019-03.txt"
POLNEAR_TRAIN = SHARED_DATA / "polnear" / "train" / "text"
RESULTS_DIR = REPO / "benchmarks" / "results"

# ----------------------------------------------------------------------------- articles


def seed_text() -> str:
    """The seed article, read from the shared data directory (never copied)."""
    return SEED_ARTICLE.read_text(encoding="utf-8")


def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


def _polnear_files() -> list[Path]:
    files = sorted(POLNEAR_TRAIN.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no PolNeAR articles under {POLNEAR_TRAIN}")
    # A fixed stride through the sorted names mixes the seven publishers.
    stride = 37
    return [files[(i * stride) % len(files)] for i in range(len(files))]


def article_of_words(words: int) -> str:
    """A deterministic news text of exactly ``words`` words: whole PolNeAR training
    articles (real, varied news prose with quotes and attributions) concatenated in a
    fixed order, the last paragraph cut to size. Article ``n`` words long is a prefix of
    every longer one, so sizes differ only in length."""
    paragraphs: list[str] = []
    total = 0
    for path in _polnear_files():
        for para in path.read_text(encoding="utf-8").split("\n"):
            n = word_count(para)
            if n == 0:
                continue
            if total + n >= words:
                cut = " ".join(para.split()[: words - total]).rstrip(".,;:") + "."
                paragraphs.append(cut)
                return "\n\n".join(paragraphs) + "\n"
            paragraphs.append(para.strip())
            total += n
    raise ValueError(f"the PolNeAR training split has fewer than {words} words")


def variants(text: str, count: int = 32) -> list[str]:
    """``count`` copies of ``text`` that differ only in trailing newlines: the same
    sentences and prompt, but distinct strings, so any per-article cache starts cold on
    every request as it would with real traffic (a repeated identical text would hit
    it)."""
    return [text + "\n" * k for k in range(1, count + 1)]


# ----------------------------------------------------------------------------- model reply

_CUE = re.compile(
    r"\b(said|says|told|added|according to|estimated|estimates|claimed|reported|warned)\b"
)
_SPEAKER = re.compile(
    r"((?:[A-Z][\w.'’-]+\s){0,3}[A-Z][\w.'’-]+),?\s+(?:said|says|told|added|claimed|warned)\b"
)
_QUOTE = re.compile(r"[“\"]([^”\"]{12,580})[”\"]")
_HEDGES = (
    ("may", "hedge"),
    ("might", "hedge"),
    ("could", "hedge"),
    ("believe", "hedge"),
    ("about", "estimate"),
    ("estimated", "estimate"),
    ("nearly", "estimate"),
    ("reportedly", "second_hand"),
)
_SENTENCE_LINE = re.compile(r"^(S[1-9][0-9]*): (.*)$", re.M)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


def _spread(items: Sequence[Any], k: int) -> list[Any]:
    """Up to ``k`` items evenly spread over ``items`` (first and last included)."""
    if len(items) <= k:
        return list(items)
    step = (len(items) - 1) / (k - 1) if k > 1 else 0
    return [items[round(i * step)] for i in range(k)]


_SYNONYMS = (
    ("people", "individuals"), ("said", "stated"), ("told", "informed"), ("more", "additional"),
    ("about", "roughly"), ("percent", "per cent"), ("million", "mn"),
)  # fmt: skip


def _restate(text: str) -> str:
    """``text`` in other words, as a model that restates rather than copies writes it:
    a word replaced by a synonym the article may not use and a trailing clause dropped,
    so the rule checks leave doubt and the consistency scorer runs, as it does on about
    7 statements an article of recorded model output."""
    out = text
    for word, other in _SYNONYMS:
        if re.search(rf"\b{word}\b", out):
            out = re.sub(rf"\b{word}\b", other, out, count=1)
            break
    else:
        first, _, rest = out.partition(" ")
        out = f"{first} notably {rest}"
    head, _, _ = out.rpartition(",")
    return head + "." if word_count(head) >= 6 else out


def reply_for(sentences: Sequence[tuple[str, str]], summary_sentences: int = 3) -> str:
    """A valid model reply shaped like a good model's, built from the article's real
    ``(sentence id, text)`` pairs: a summary restating early sentences, eight attributed
    claims spread over the whole article (every other one restated, the others in the
    sentence's words, with direct quotes where the sentence has one), one invented claim
    that the verifier must reject, and hedge/estimate flags."""
    usable = [(sid, text) for sid, text in sentences if word_count(text) >= 6]
    if not usable:
        usable = list(sentences)
    summary = [
        {"text": _clip(_restate(text), 400), "sentences": [sid]}
        for sid, text in usable[:summary_sentences]
    ]
    attributed = [(sid, text) for sid, text in usable if _CUE.search(text)] or usable
    claims: list[dict[str, Any]] = []
    for n, (sid, text) in enumerate(_spread(attributed, 8)):
        cue = _CUE.search(text)
        who = _SPEAKER.search(text)
        quote = _QUOTE.search(text)
        claims.append(
            {
                "text": _clip(_restate(text) if n % 2 else text, 400),
                "speaker": who.group(1)[:150] if who else "the outlet",
                "speaker_type": "person" if who else "outlet",
                "cue": cue.group(1) if cue else None,
                "sentences": [sid],
                "quote": quote.group(1) if quote else None,
            }
        )
    first = usable[0][0]
    claims.append(
        {
            "text": "Officials said 987,654 residents were evacuated overnight.",
            "speaker": "officials",
            "speaker_type": "anonymous",
            "cue": "said",
            "sentences": [first],
            "quote": None,
        }
    )
    flags: list[dict[str, Any]] = []
    for sid, text in usable:
        for word, kind in _HEDGES:
            if re.search(rf"\b{word}\b", text):
                flags.append({"type": kind, "sentences": [sid], "cue": word})
                break
    flags = _spread(flags, 6)
    return json.dumps({"summary": summary, "claims": claims, "flags": flags})


def reply_for_text(text: str, summary_sentences: int = 3) -> str:
    """:func:`reply_for` on the sentences FactDesk itself numbers in ``text``."""
    doc = prepare(text)
    return reply_for([(s.id, s.text) for s in doc.sentences], summary_sentences)


def reply_for_prompt(messages: Sequence[dict[str, Any]], summary_sentences: int = 3) -> str:
    """:func:`reply_for` on the numbered ``S<n>: text`` lines of a rendered prompt."""
    user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    return reply_for(_SENTENCE_LINE.findall(user), summary_sentences)


def shape_reply(reply: str, schema: dict[str, Any]) -> str:
    """``reply`` (a :func:`reply_for` answer) in the shape ``schema`` asks for: unchanged
    for the one-call schema, its summary alone for a summary call, its claims as
    one-sentence claims with an offered speaker for a claims call (focused prompts)."""
    props = schema.get("properties", {})
    if ("summary" in props) == ("claims" in props):
        return reply
    value = json.loads(reply)
    if "summary" in props:
        limit = int(props["summary"].get("maxItems", 3))
        return json.dumps(
            {
                "summary": [
                    {"text": _clip(s["text"], 200), "sentences": s["sentences"][:2]}
                    for s in value["summary"][:limit]
                ]
            }
        )
    claim_props = schema.get("$defs", {}).get("V2Claim", {}).get("properties", {})
    offered = list(claim_props.get("speaker", {}).get("enum", []))
    limit = int(props["claims"].get("maxItems", 8))
    claims = []
    for c in value["claims"][:limit]:
        speaker = c["speaker"] or "the article itself"
        if offered and speaker not in offered:
            speaker = next((o for o in offered if o.lower() in speaker.lower()), offered[0])
        claims.append(
            {
                "sentence": c["sentences"][0],
                "speaker": speaker[:120],
                "cue": (c["cue"] or None) and c["cue"][:30],
                "text": _clip(c["text"], 190),
            }
        )
    return json.dumps({"claims": claims})


@dataclass
class InstantLLM:
    """An LLM that answers at once with a fixed reply (shaped for each call's schema, see
    :func:`shape_reply`), timing its own calls so the benchmark can subtract them."""

    reply: str
    calls: int = 0
    spent_s: float = 0.0
    requests: list[CompletionRequest] = field(default_factory=list)
    keep_requests: bool = False

    async def complete(self, request: CompletionRequest) -> Completion:
        """Return the fixed reply."""
        t0 = time.perf_counter()
        self.calls += 1
        if self.keep_requests:
            self.requests.append(request)
        text = shape_reply(self.reply, request.schema)
        completion = Completion(text=text, usage=Usage(1500, 600, 0.0), model=request.model)
        self.spent_s += time.perf_counter() - t0
        return completion

    async def ready(self, model: str) -> tuple[bool, str]:
        """Always ready."""
        return True, "instant fake"


# ----------------------------------------------------------------------------- statistics


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float | int]:
    """Median, min, max and count of ``values``."""
    if not values:
        raise ValueError("no values")
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x): the exponent ``k`` in y ~ x^k."""
    import math

    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den


# ----------------------------------------------------------------------------- machine


def _git(*args: str) -> str:
    """Output of ``git ARGS`` in the repository (raises on failure)."""
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python and the commit the numbers belong to."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "unknown", ""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "working_tree_modified": bool(dirty),
        "load_average_at_start": load,
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``GET url`` answers 200; raises ``RuntimeError`` on timeout or when
    ``proc`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f}s")


def start_python(
    args: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``python -m ...`` (this interpreter) from the repository root."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate a child this benchmark started (by its own handle), then reap it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def drop_logs(logs: Path, failed: bool) -> None:
    """Remove a section's log directory after a success; keep it (and say where) after a
    failure, for the post-mortem."""
    if failed:
        print(f"bench: logs kept in {logs}", file=sys.stderr)
    else:
        shutil.rmtree(logs, ignore_errors=True)


def rss_mb(pid: int) -> dict[str, float]:
    """Current (``VmRSS``) and peak (``VmHWM``) resident memory of ``pid`` in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss": out.get("VmRSS", 0.0), "peak": out.get("VmHWM", 0.0)}


def reset_peak_rss(pid: int) -> bool:
    """Reset ``VmHWM`` of ``pid`` to its current RSS (Linux ``clear_refs`` 5), so the
    next reading is the peak of what happens from now on. False when not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
