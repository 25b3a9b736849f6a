"""Serves a built listening test on 127.0.0.1 and stores validated submissions atomically.

Only an allow-list is served: the page files and the audio files named in
test.json, each a regular file (not a symlink) inside the test folder. key.json
and results/ are never served. POST /api/submit takes one JSON answer sheet of
at most `MAX_SUBMISSION_BYTES`, checks it against test.json and writes it to
results/ with a temporary file and `os.replace`.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from advaudio.evaluation.listening.build import FORMAT

HOST = "127.0.0.1"
SUBMIT_PATH = "/api/submit"
MAX_SUBMISSION_BYTES = 1 << 20
# After refusing an oversized body, at most this much of it is read and dropped, for at most
# LINGER_SECONDS, so that closing does not reset the connection before the client reads the refusal.
LINGER_BYTES = 2 * MAX_SUBMISSION_BYTES
LINGER_SECONDS = 2.0
MAX_TEXT = 64  # longest accepted timestamp / listener string
LISTENER_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PAGE_FILES = ("index.html", "app.js", "style.css", "test.json")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".json": "application/json", ".wav": "audio/wav"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; media-src 'self'; img-src 'self' blob:; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
}
CHOICES = ("a", "b", "none")
TOP_LEVEL = {"format", "test_id", "listener", "started", "finished", "order", "ratings", "preferences"}


class SubmissionError(ValueError):
    """A submission that does not match the test; the message says what is wrong."""


def load_test(test_dir: Path) -> dict:
    """The public test data (test.json) of a built test folder."""
    path = Path(test_dir) / "test.json"
    if not path.is_file():
        raise FileNotFoundError(f"{test_dir} holds no test.json; build it with `python -m advaudio.listen build`")
    return json.loads(path.read_text())


def _reject_constant(name: str):
    raise SubmissionError(f"{name} is not a valid number")


def parse_submission(body: bytes) -> dict:
    """JSON text -> dict; NaN and Infinity are refused."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SubmissionError(f"not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise SubmissionError("the submission must be a JSON object")
    return doc


def _text(doc: dict, name: str, required: bool) -> None:
    value = doc.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise SubmissionError(f"{name} must be a string of at most {MAX_TEXT} characters")


def validate_submission(doc: dict, test: dict) -> dict:
    """Checks an answer sheet against the test; returns it unchanged or raises SubmissionError.

    Schema: {format, test_id, listener, started?, finished?, order?,
    ratings: [{trial, stimulus, score in [0, 100], position?, played?}],
    preferences: [{trial, a, b, choice in a|b|none}]}; every trial and
    stimulus must be one of the test's, each answered at most once.
    """
    unknown = set(doc) - TOP_LEVEL
    if unknown:
        raise SubmissionError(f"unknown fields {sorted(unknown)}")
    if doc.get("format") != FORMAT:
        raise SubmissionError(f"format must be {FORMAT!r}")
    if doc.get("test_id") != test["test_id"]:
        raise SubmissionError("this submission belongs to another test")
    if not isinstance(doc.get("listener"), str) or not LISTENER_RE.match(doc["listener"]):
        raise SubmissionError("listener must be 1-64 letters, digits, - or _")
    _text(doc, "started", False)
    _text(doc, "finished", False)
    trials = {t["id"]: t for t in test["trials"]}
    order = doc.get("order")
    if order is not None and (not isinstance(order, list)
                              or not all(isinstance(t, str) and t in trials for t in order)):
        raise SubmissionError("order must list trial ids of this test")
    ratings, preferences = doc.get("ratings", []), doc.get("preferences", [])
    if not isinstance(ratings, list) or not isinstance(preferences, list):
        raise SubmissionError("ratings and preferences must be lists")
    if not ratings and not preferences:
        raise SubmissionError("the submission holds no answers")
    seen = set()
    for r in ratings:
        if not isinstance(r, dict) or set(r) - {"trial", "stimulus", "score", "position", "played"}:
            raise SubmissionError(f"bad rating {r!r}")
        trial = trials.get(r.get("trial")) if isinstance(r.get("trial"), str) else None
        if trial is None or trial["type"] != "rating":
            raise SubmissionError(f"unknown rating trial {r.get('trial')!r}")
        if r.get("stimulus") not in trial["stimuli"]:
            raise SubmissionError(f"stimulus {r.get('stimulus')!r} is not in trial {trial['id']}")
        score = r.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
                or not 0 <= score <= 100:
            raise SubmissionError(f"score {score!r} is not a number from 0 to 100")
        if "played" in r and not isinstance(r["played"], bool):
            raise SubmissionError("played must be true or false")
        if "position" in r and (isinstance(r["position"], bool) or not isinstance(r["position"], int)):
            raise SubmissionError("position must be an integer")
        if (trial["id"], r["stimulus"]) in seen:
            raise SubmissionError(f"stimulus {r['stimulus']} is rated twice in {trial['id']}")
        seen.add((trial["id"], r["stimulus"]))
    for p in preferences:
        if not isinstance(p, dict) or set(p) != {"trial", "a", "b", "choice"}:
            raise SubmissionError(f"bad preference {p!r}")
        trial = trials.get(p["trial"]) if isinstance(p["trial"], str) else None
        if trial is None or trial["type"] != "ab":
            raise SubmissionError(f"unknown AB trial {p['trial']!r}")
        if sorted([p["a"], p["b"]], key=str) != sorted(trial["stimuli"]):
            raise SubmissionError(f"a and b must be the two stimuli of {trial['id']}")
        if p["choice"] not in CHOICES:
            raise SubmissionError(f"choice must be one of {CHOICES}")
        if trial["id"] in seen:
            raise SubmissionError(f"trial {trial['id']} is answered twice")
        seen.add(trial["id"])
    return doc


def store_submission(results_dir: Path, test_dir: Path, doc: dict) -> str:
    """Writes `doc` to results_dir/<listener>-<time>-<random>.json atomically; returns the name."""
    if results_dir.is_symlink() or not results_dir.resolve().is_relative_to(test_dir.resolve()):
        raise PermissionError(f"{results_dir} leads outside the test folder")
    results_dir.mkdir(exist_ok=True)
    name = f"{doc['listener']}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}.json"
    final = results_dir / name
    temp = results_dir / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return name


class ListenHandler(BaseHTTPRequestHandler):
    """GET/HEAD of the allow-listed files, POST of answer sheets; nothing else."""

    server_version = "advaudio-listen"
    sys_version = ""
    timeout = 30  # seconds a connection may stall (a half-sent body) before it is dropped

    def log_message(self, format, *args):  # noqa: A002 (the stdlib's name)
        if not self.server.quiet:
            super().log_message(format, *args)

    def _linger(self, limit: int) -> None:
        """Reads and drops up to `limit` bytes of a refused body (bounded in time too), or until the
        client closes: closing with unread data would reset the connection before it reads the answer."""
        self.wfile.flush()
        self.connection.settimeout(LINGER_SECONDS)
        try:
            while limit > 0:
                chunk = self.rfile.read1(min(limit, 1 << 16))
                if not chunk:
                    return
                limit -= len(chunk)
        except OSError:  # timeout or reset: the answer was sent, nothing more to do
            return

    def _send(self, status: int, body: bytes, content_type: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status: int, message: str, head: bool = False) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json", head)

    def _host_ok(self) -> bool:
        # Refuses other host names (DNS rebinding) and other sites' pages (cross-site POST).
        port = self.server.server_address[1]
        allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if self.headers.get("Host") not in allowed:
            return False
        origin = self.headers.get("Origin")
        return origin is None or origin in {f"http://{h}" for h in allowed}

    def _file_for(self, raw_path: str) -> Path | None:
        """The served file for a request path, or None (allow-list; no symlinks; inside the folder)."""
        parts = urlsplit(raw_path)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            return None
        path = parts.path  # never unquoted: allowed names hold no '%', so an encoded name is refused
        relative = "index.html" if path == "/" else path[1:]
        if relative not in self.server.allowed:
            return None
        target = self.server.root / relative
        try:
            info = os.lstat(target)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or target.parent.is_symlink():
            return None
        if not Path(os.path.realpath(target)).is_relative_to(self.server.root):
            return None
        return target

    def _get(self, head: bool) -> None:
        if not self._host_ok():
            return self._error(HTTPStatus.FORBIDDEN, "wrong host", head)
        target = self._file_for(self.path)
        if target is None:
            return self._error(HTTPStatus.NOT_FOUND, "not found", head)
        try:
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                body = handle.read()
        except OSError:
            return self._error(HTTPStatus.NOT_FOUND, "not found", head)
        self._send(HTTPStatus.OK, body, CONTENT_TYPES.get(target.suffix, "application/octet-stream"), head)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._get(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._get(head=True)

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_ok():
            return self._error(HTTPStatus.FORBIDDEN, "wrong host or origin")
        if urlsplit(self.path).path != SUBMIT_PATH:
            return self._error(HTTPStatus.NOT_FOUND, "not found")
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        if "Transfer-Encoding" in self.headers:
            return self._error(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        if length < 0 or length > MAX_SUBMISSION_BYTES:
            self.close_connection = True
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_SUBMISSION_BYTES} bytes")
            return self._linger(min(length, LINGER_BYTES))
        body = self.rfile.read(length)
        try:
            doc = validate_submission(parse_submission(body), self.server.test)
            name = store_submission(self.server.root / "results", self.server.root, doc)
        except SubmissionError as err:
            return self._error(HTTPStatus.BAD_REQUEST, str(err))
        except OSError as err:
            self.log_error("could not store a submission: %s", err)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "could not store the submission")
        self._send(HTTPStatus.CREATED, json.dumps({"stored": name}).encode(), "application/json")


class ListenServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to 127.0.0.1 that knows its test folder."""

    daemon_threads = True

    def __init__(self, test_dir: str | Path, port: int = 0, quiet: bool = False):
        self.root = Path(os.path.realpath(test_dir))
        self.test = load_test(self.root)
        self.allowed = set(PAGE_FILES) | set(self.test["audio"].values())
        self.quiet = quiet
        super().__init__((HOST, port), ListenHandler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"


def serve(test_dir: str | Path, port: int = 8000, quiet: bool = False) -> None:
    """Serves `test_dir` until interrupted; prints the address (port 0: any free port)."""
    with ListenServer(test_dir, port, quiet) as server:
        print(f"Serving the listening test at {server.url} (Ctrl-C to stop); "
              f"submissions go to {server.root / 'results'}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
