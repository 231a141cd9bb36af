"""The report rendered in headless Chromium: the DOM it builds, a screenshot, and no request.

Chromium runs with every network path shut (its resolver finds no host, its proxy is a closed
port, background services off), and its net log is read afterwards: a request the *page*
started (initiator: the page's origin, not the browser itself) would be listed there.  A
control page with a remote image shows that the check sees such a request.  Skipped where
Chromium is not installed (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from hybridvmm.vmm import COMPARE_MODES

from .page import Page

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
OFFLINE = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
]


def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")


def chromium(page: Path, tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run Chromium offline on ``page``; (the run, its net log)."""
    exe = browser()
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "net.json"
    env = {**os.environ, "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / "config"), "XDG_CACHE_HOME": str(tmp / "cache")}
    argv = [exe, *OFFLINE, f"--user-data-dir={tmp / 'profile'}", f"--log-net-log={log}", *args, page.resolve().as_uri()]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, cwd=tmp)
    assert run.returncode == 0, run.stderr[-2000:]
    return run, log


def page_requests(log: Path) -> list[str]:
    """URLs of the requests the page itself started (not Chromium's own services)."""
    data = json.loads(log.read_text())
    start = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    out = []
    for event in data["events"]:
        params = event.get("params") or {}
        url = params.get("url", "")
        if event["type"] == start and url and params.get("initiator") != "not an origin" and not url.startswith(("file:", "data:")):
            out.append(url)
    return out


def test_headless_chromium_renders_the_report_without_a_request(pgm_report, tmp_path):
    run, log = chromium(pgm_report.path, tmp_path / "dom", "--dump-dom")
    page = Page(run.stdout)
    assert list(page.rows) == list(COMPARE_MODES)
    assert page.rows["pure"] == "diverged" and page.rows["hybrid"] == "equivalent"
    assert page.svgs >= 4
    text = page.all_text
    assert "first divergence" in text and "responsible" in text and "Exits over time" in text
    assert page_requests(log) == []


def test_screenshot_of_the_report(pgm_report, tmp_path):
    shot = tmp_path / "report.png"
    run, log = chromium(pgm_report.path, tmp_path / "shot", f"--screenshot={shot}", "--window-size=1280,3000",
                        "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 3000) and len(data) > 50_000  # text, table and figures, not a blank page
    assert page_requests(log) == []


def test_the_request_check_sees_a_page_that_loads(tmp_path):
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">'
                       '<link rel="stylesheet" href="https://fonts.example.invalid/a.css"></body></html>')
    _, log = chromium(control, tmp_path / "control", "--dump-dom")
    assert sorted(page_requests(log)) == ["http://example.invalid/x.png", "https://fonts.example.invalid/a.css"]
