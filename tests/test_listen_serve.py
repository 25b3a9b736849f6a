"""Tests of advaudio.evaluation.listening.serve: the allow-list, path traversal, symlinks, and validated atomic submissions."""
import http.client
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from run_folders import make_run
from advaudio.evaluation.listening import build as build_lib
from advaudio.evaluation.listening import serve as serve_lib
from advaudio.listen.__main__ import main

SR = 16000


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    t = np.arange(SR) / SR
    reference = 0.3 * np.sin(2 * np.pi * 440 * t)
    noise = 0.1 * np.random.default_rng(0).standard_normal(SR)
    return make_run(root, "secret_tone", reference, reference, samples=1), make_run(root, "secret_noise", noise, reference, samples=1)


def make_test(runs, folder: Path) -> Path:
    build_lib.build(list(runs), folder, excerpt_seconds=0.5, trials=2, seed=0)
    return folder


@pytest.fixture(scope="module")
def site(runs, tmp_path_factory):
    """A built test served on a free port, plus a secret file next to (outside) the test folder."""
    base = tmp_path_factory.mktemp("site")
    (base / "outside.txt").write_text("TOP SECRET outside")
    folder = make_test(runs, base / "test")
    server = serve_lib.ListenServer(folder, 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, server
    server.shutdown()
    server.server_close()


def request(port, method, target, body=b"", headers=None, host=None):
    """Sends `target` as it is (no normalisation) and returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{port}")
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    if body or method == "POST":
        if "Content-Length" not in (headers or {}):
            conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body or None)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def answer_sheet(folder: Path, listener="alice", score=80):
    test = json.loads((folder / "test.json").read_text())
    ratings = [{"trial": t["id"], "stimulus": s, "score": score, "played": True}
               for t in test["trials"] if t["type"] == "rating" for s in t["stimuli"]]
    prefs = [{"trial": t["id"], "a": t["stimuli"][1], "b": t["stimuli"][0], "choice": "a"}
             for t in test["trials"] if t["type"] == "ab"]
    return {"format": build_lib.FORMAT, "test_id": test["test_id"], "listener": listener,
            "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:05:00Z",
            "order": [t["id"] for t in test["trials"]], "ratings": ratings, "preferences": prefs}


def post(port, doc, **kwargs):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return request(port, "POST", "/api/submit", body, headers, **kwargs)


def stored(folder):
    return sorted(p.name for p in (folder / "results").iterdir())


def test_binds_loopback_only(site):
    _, server = site
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_serves_the_page_and_the_audio(site):
    folder, server = site
    port = server.server_address[1]
    status, headers, body = request(port, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert body == (folder / "index.html").read_bytes()
    assert headers["X-Content-Type-Options"] == "nosniff" and "default-src 'self'" in headers["Content-Security-Policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css"), ("test.json", "application/json")):
        status, headers, body = request(port, "GET", "/" + name)
        assert status == 200 and headers["Content-Type"].startswith(kind) and body == (folder / name).read_bytes()
    audio = sorted((folder / "audio").iterdir())
    assert len(audio) == 8
    for path in audio:
        status, headers, body = request(port, "GET", f"/audio/{path.name}")
        assert status == 200 and headers["Content-Type"] == "audio/wav" and body == path.read_bytes()
    status, headers, body = request(port, "HEAD", f"/audio/{audio[0].name}")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == audio[0].stat().st_size


TRAVERSALS = [
    "/key.json", "/results/", "/results", "/audio/", "/audio", "/../key.json", "/%2e%2e/key.json",
    "/audio/../key.json", "/audio/%2e%2e/key.json", "/audio/..%2fkey.json", "/audio%2f..%2fkey.json",
    "/%6bey.json", "/./key.json", "//key.json", "/..\\key.json", "/key.json%00.wav", "/index.html/../key.json",
    "/../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E%2Foutside.txt", "/audio/../../outside.txt",
    "/..%252foutside.txt", "//etc/passwd", "/etc/passwd", "/%2fetc%2fpasswd", "/../../../../../../etc/passwd",
    "http://127.0.0.1/../key.json", "http://127.0.0.1/key.json", "key.json", "*",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_nothing_else_is_readable(site, target):
    folder, server = site
    port = server.server_address[1]
    status, _, body = request(port, "GET", target)
    assert status in (400, 404), (target, status)
    assert b"secret_" not in body and b"TOP SECRET" not in body and b"root:" not in body


def test_absolute_paths_are_refused(site):
    folder, server = site
    port = server.server_address[1]
    for path in (folder / "key.json", folder.parent / "outside.txt", Path("/etc/passwd")):
        status, _, body = request(port, "GET", str(path))
        assert status == 404 and b"secret_" not in body and b"TOP SECRET" not in body


def test_stored_results_are_not_readable(site):
    folder, server = site
    port = server.server_address[1]
    status, _, body = post(port, answer_sheet(folder, "reader"))
    name = json.loads(body)["stored"]
    for target in (f"/results/{name}", f"/results%2f{name}", f"/audio/../results/{name}"):
        assert request(port, "GET", target)[0] == 404


def test_symlinks_are_not_followed(runs, tmp_path):
    (tmp_path / "outside.txt").write_text("TOP SECRET outside")
    folder = make_test(runs, tmp_path / "test")
    audio = sorted((folder / "audio").iterdir())
    audio[0].unlink()
    audio[0].symlink_to(tmp_path / "outside.txt")  # an allow-listed name that leads outside
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder / "audio", elsewhere, symlinks=True)
    (folder / "results").rmdir()
    (folder / "results").symlink_to(tmp_path, target_is_directory=True)  # results that lead outside
    with serve_lib.ListenServer(folder, 0, quiet=True) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.server_address[1]
        status, _, body = request(port, "GET", f"/audio/{audio[0].name}")
        assert status == 404 and b"TOP SECRET" not in body
        assert request(port, "GET", f"/audio/{audio[1].name}")[0] == 200
        before = sorted(os.listdir(tmp_path))
        status, _, _ = post(port, answer_sheet(folder))
        assert status == 500 and sorted(os.listdir(tmp_path)) == before  # nothing written outside
        shutil.rmtree(folder / "audio")
        (folder / "audio").symlink_to(elsewhere, target_is_directory=True)  # the whole audio folder
        assert request(port, "GET", f"/audio/{audio[1].name}")[0] == 404
        server.shutdown()


def test_submission_is_stored_atomically(site):
    folder, server = site
    port = server.server_address[1]
    before = set(stored(folder))
    doc = answer_sheet(folder, "bob")
    status, _, body = post(port, doc)
    assert status == 201
    name = json.loads(body)["stored"]
    assert name.startswith("bob-") and name.endswith(".json")
    assert json.loads((folder / "results" / name).read_text()) == doc
    status, _, body = post(port, doc)  # a second sheet of the same listener is kept too
    assert status == 201 and json.loads(body)["stored"] != name
    after = set(stored(folder)) - before
    assert len(after) == 2 and not any(n.startswith(".") for n in after)  # no temporary files left


def bad_sheets(folder):
    good = answer_sheet(folder)
    test = json.loads((folder / "test.json").read_text())
    other_trial = [t for t in test["trials"] if t["type"] == "rating"][1]
    cases = {
        "score above 100": lambda d: d["ratings"][0].update(score=100.5),
        "negative score": lambda d: d["ratings"][0].update(score=-1),
        "score as text": lambda d: d["ratings"][0].update(score="50"),
        "score as bool": lambda d: d["ratings"][0].update(score=True),
        "unknown stimulus": lambda d: d["ratings"][0].update(stimulus="0123456789abcdef"),
        "stimulus of another trial": lambda d: d["ratings"][0].update(stimulus=other_trial["stimuli"][0]),
        "unknown trial": lambda d: d["ratings"][0].update(trial="r99"),
        "rated twice": lambda d: d["ratings"].append(dict(d["ratings"][0])),
        "bad listener": lambda d: d.update(listener="../../evil"),
        "empty listener": lambda d: d.update(listener=""),
        "another test": lambda d: d.update(test_id="0" * 16),
        "wrong format": lambda d: d.update(format="other/1"),
        "unknown field": lambda d: d.update(extra=1),
        "bad choice": lambda d: d["preferences"][0].update(choice="both"),
        "wrong pair": lambda d: d["preferences"][0].update(a=other_trial["stimuli"][0]),
        "no answers": lambda d: d.update(ratings=[], preferences=[]),
        "ratings not a list": lambda d: d.update(ratings={}),
        "long timestamp": lambda d: d.update(started="x" * 1000),
    }
    for name, change in cases.items():
        doc = json.loads(json.dumps(good))
        change(doc)
        yield name, doc


def test_invalid_submissions_are_refused_and_not_stored(site):
    folder, server = site
    port = server.server_address[1]
    before = stored(folder)
    for name, doc in bad_sheets(folder):
        status, _, body = post(port, doc)
        assert status == 400, name
        assert "error" in json.loads(body)
    assert post(port, b"{not json")[0] == 400
    assert post(port, b'{"score": NaN}')[0] == 400
    assert post(port, b"[1, 2]")[0] == 400
    assert post(port, b"\xff\xfe")[0] == 400
    assert stored(folder) == before


def test_size_type_host_origin_and_methods(site):
    folder, server = site
    port = server.server_address[1]
    before = stored(folder)
    big = json.dumps(answer_sheet(folder)).encode() + b" " * serve_lib.MAX_SUBMISSION_BYTES
    assert post(port, big)[0] == 413
    status, _, _ = request(port, "POST", "/api/submit", b"",
                           {"Content-Type": "application/json", "Content-Length": str(10 ** 12)})
    assert status == 413  # refused from the header alone, before reading
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", "/api/submit")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()
    good = answer_sheet(folder)
    assert post(port, good, headers={"Content-Type": "text/plain"})[0] == 415
    assert post(port, good, host="evil.example:80")[0] == 403  # DNS rebinding
    assert request(port, "GET", "/", host="evil.example")[0] == 403
    assert post(port, good, headers={"Origin": "http://evil.example"})[0] == 403  # another site's page
    assert post(port, good, headers={"Origin": f"http://localhost:{port}"})[0] == 201
    status, _, _ = request(port, "POST", "/results/x.json", json.dumps(good).encode(),
                           {"Content-Type": "application/json"})
    assert status == 404
    for method in ("PUT", "DELETE", "PATCH"):
        assert request(port, method, "/results/x.json", b"{}")[0] == 501
    assert len(stored(folder)) == len(before) + 1  # only the one good sheet


def test_validate_accepts_a_good_sheet(site):
    folder, server = site
    doc = answer_sheet(folder)
    assert serve_lib.validate_submission(doc, server.test) is doc
    with pytest.raises(serve_lib.SubmissionError, match="not a valid number"):
        serve_lib.parse_submission(b'{"x": Infinity}')


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1000, 1000)))
def test_scores_accepted_exactly_in_0_to_100(site, score):
    folder, server = site
    doc = answer_sheet(folder)
    doc["ratings"][0]["score"] = score
    if isinstance(score, (int, float)) and np.isfinite(score) and 0 <= score <= 100:
        serve_lib.validate_submission(doc, server.test)
    else:
        with pytest.raises(serve_lib.SubmissionError):
            serve_lib.validate_submission(doc, server.test)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_listener_ids_are_safe_file_name_parts(site, listener):
    folder, server = site
    doc = answer_sheet(folder)
    doc["listener"] = listener
    try:
        serve_lib.validate_submission(doc, server.test)
    except serve_lib.SubmissionError:
        return
    assert listener and all(c.isascii() and (c.isalnum() or c in "-_") for c in listener) and len(listener) <= 64


def test_cli_serve_refuses_a_folder_without_a_test(tmp_path, capsys):
    assert main(["serve", str(tmp_path), "--port", "0"]) == 2
    assert "test.json" in capsys.readouterr().err
