"""Drives a built listening test in a real headless Chromium against `python -m advaudio.listen serve`.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`); never
`playwright install`. Without the browser this test fails: it never skips.
"""
import csv
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from run_folders import make_run
from advaudio.evaluation.listening import analyze as analyze_lib
from advaudio.evaluation.listening import build as build_lib

pytestmark = pytest.mark.slow  # a real browser and a server subprocess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]
REPO = Path(__file__).resolve().parents[1]
SR = 16000
SCORES = {"tonal_model": 85, "noisy_model": 20, "reference": 95, "anchor": 5}
PLAY_TIMEOUT_MS = 15000  # generous: the CI machine is shared


@pytest.fixture(scope="module")
def test_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    t = np.arange(int(1.5 * SR)) / SR
    reference = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 5000 * t)
    noise = 0.2 * np.random.default_rng(0).standard_normal(len(t))
    runs = [make_run(root, "tonal_model", reference, reference), make_run(root, "noisy_model", noise, reference)]
    out = root / "test"
    build_lib.build(runs, out, excerpt_seconds=0.5, trials=2, seed=1, ab_per_pair=2)
    return out


@pytest.fixture(scope="module")
def server(test_dir):
    """`python -m advaudio.listen serve DIR --port 0` in a subprocess; yields its URL."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen([sys.executable, "-m", "advaudio.listen", "serve", str(test_dir), "--port", "0",
                                "--quiet"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"serve printed {line!r}"
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def launch(playwright):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                    "never `playwright install`" + (" [CI]" if os.environ.get("CI") else ""))
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def play(row):
    """Clicks a stimulus' play button and waits until its audio element has really played."""
    row.locator("button.play").click()
    audio = row.locator("audio").element_handle()
    row.page.wait_for_function("a => a.currentTime > 0 || a.ended", arg=audio, timeout=PLAY_TIMEOUT_MS)
    return row.page.evaluate("a => ({time: a.currentTime, ended: a.ended, error: a.error})", audio)


def answer_page(page, key, choices, shown):
    """Plays and answers the page on screen; returns its type; appends {id, type, stimuli} to `shown`."""
    kind = page.get_attribute("#stimuli", "data-type")
    rows = page.locator("#stimuli .stimulus")
    ids = [rows.nth(i).get_attribute("data-stimulus") for i in range(rows.count())]
    shown.append({"id": page.get_attribute("#stimuli", "data-trial"), "type": kind, "stimuli": ids})
    conditions = [key["stimuli"][sid]["condition"] for sid in ids]
    for i in range(rows.count()):
        state = play(rows.nth(i))
        assert state["error"] is None and (state["time"] > 0 or state["ended"])
    if kind == "rating":
        assert rows.count() == 4
        for i, condition in enumerate(conditions):
            rows.nth(i).locator("input[type=range]").fill(str(SCORES[condition]))
    else:
        assert rows.count() == 2 and sorted(conditions) == ["noisy_model", "tonal_model"]
        choice = choices.pop(0)
        value = "none" if choice == "none" else "ab"[conditions.index(choice)]
        page.check(f"#choice input[value={value}]")
    page.click("#next")
    return kind


def test_listening_test_in_chromium(test_dir, server, tmp_path):
    key = json.loads((test_dir / "key.json").read_text())
    requests, errors = [], []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(accept_downloads=True)
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(server)

            # The order is a function of the listener id: stable for one, different across listeners.
            orders = page.evaluate("ids => ids.map(id => advaudioListen.orderFor(id))", [f"l{i}" for i in range(6)])
            again = page.evaluate("() => advaudioListen.orderFor('l0')")
            assert again == orders[0]
            assert len({json.dumps(o) for o in orders}) > 1
            public = json.loads((test_dir / "test.json").read_text())
            for order in orders:
                assert [t["type"] for t in order] == ["rating", "rating", "ab", "ab"]
                by_id = {t["id"]: sorted(t["stimuli"]) for t in public["trials"]}
                assert all(sorted(t["stimuli"]) == by_id[t["id"]] for t in order)

            page.fill("#listener", "alice")
            page.click("#start")
            assert page.inner_text("#progress") == "Page 1 of 4"
            assert page.is_disabled("#next")
            choices = ["tonal_model", "none"]
            shown = []
            assert answer_page(page, key, choices, shown) == "rating"

            # Answers survive a reload: the same listener resumes on page 2 with page 1 kept.
            page.reload()
            assert page.input_value("#listener") == "alice"
            page.click("#start")
            assert page.inner_text("#progress") == "Page 2 of 4"
            kept = page.evaluate("() => advaudioListen.answers().ratings.length")
            assert kept == 4
            kinds = [answer_page(page, key, choices, shown) for _ in range(3)]
            assert kinds == ["rating", "ab", "ab"]
            assert shown == page.evaluate("() => advaudioListen.orderFor('alice')")  # the UI follows the order
            assert page.is_visible("#done")

            with page.expect_download() as download:
                page.click("#export-json")
            exported = json.loads(Path(download.value.path()).read_text())
            with page.expect_download() as download:
                page.click("#export-csv")
            (tmp_path / "alice.csv").write_bytes(Path(download.value.path()).read_bytes())
            (tmp_path / "alice.json").write_text(json.dumps(exported))

            page.click("#submit")
            page.wait_for_function("() => document.getElementById('submit-status').textContent.startsWith('Submitted')")
            html = page.content()
        finally:
            browser.close()

    assert errors == []
    assert not any("key.json" in url or "/results" in url for url in requests)
    for word in ("tonal", "noisy", "reference/test"):
        assert word not in html
    assert exported["listener"] == "alice" and len(exported["ratings"]) == 8 and len(exported["preferences"]) == 2
    for r in exported["ratings"]:
        assert r["played"] is True and r["score"] == SCORES[key["stimuli"][r["stimulus"]]["condition"]]
    rows = list(csv.DictReader(open(tmp_path / "alice.csv", newline="")))
    assert [r["kind"] for r in rows].count("rating") == 8 and [r["kind"] for r in rows].count("ab") == 2

    (stored,) = list((test_dir / "results").iterdir())
    assert json.loads(stored.read_text()) == exported

    # A second listener, who did not hear the real excerpt as real, submits straight to the server.
    mallory = json.loads(json.dumps(exported))
    mallory["listener"] = "mallory"
    for r in mallory["ratings"]:
        r["score"] = 50
    request = urllib.request.Request(server + "api/submit", json.dumps(mallory).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201

    summary = analyze_lib.analyze([test_dir / "results"], out=tmp_path / "analysis")
    assert summary["listeners"]["kept"] == ["alice"]
    assert [d["listener"] for d in summary["listeners"]["dropped"]] == ["mallory"]
    means = {c["condition"]: c["mean"] for c in summary["conditions"]}
    assert means == {"reference": 95, "tonal_model": 85, "noisy_model": 20, "anchor": 5}
    (ab,) = summary["ab"]
    assert (ab["a"], ab["b"], ab["prefer_a"], ab["prefer_b"], ab["no_preference"]) == \
        ("tonal_model", "noisy_model", 1, 0, 1)
    assert (tmp_path / "analysis" / "ratings.png").is_file()
    from_downloads = analyze_lib.analyze([tmp_path / "alice.csv"], test_dir / "key.json")
    assert from_downloads["conditions"] == analyze_lib.analyze([tmp_path / "alice.json"],
                                                               test_dir / "key.json")["conditions"]
    assert {c["condition"]: c["mean"] for c in from_downloads["conditions"]} == means
