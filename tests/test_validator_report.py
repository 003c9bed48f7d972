"""`python -m validator report`: one self-contained page, checked by decoding its images and in a real browser."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from headless_browser import Page, chromium_binary
from state_fixture import build_state
from validator import plots
from validator.state import StateStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLOTS = ("plot-weights", "plot-losses", "plot-frontier", "plot-durations")


def report(state_dir, out_dir) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "patches"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "validator", "report", "--state.dir", str(state_dir), "--out",
                           str(out_dir)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out_dir / "report.html")
    return (out_dir / "report.html").read_text()


def embedded_images(page: str) -> dict[str, Image.Image]:
    found = re.findall(r'<img id="([^"]+)"[^>]* src="data:image/png;base64,([^"]+)">', page)
    return {name: Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB") for name, data in found}


def assert_plots_drawn(page: str) -> None:
    images = embedded_images(page)
    assert sorted(images) == sorted(PLOTS)
    for name, image in images.items():
        assert image.size == (plots.WIDTH, plots.HEIGHT), name
        assert np.asarray(image, dtype=np.float64).var() > 0, f"{name} is blank"


def test_report_embeds_every_plot_and_loads_nothing_else(tmp_path):
    build_state(tmp_path / "state")
    page = report(tmp_path / "state", tmp_path / "out")
    assert_plots_drawn(page)
    assert not re.search(r'(src|href)="(?!data:)', page), "the page must not load anything from outside"
    assert "<script" not in page
    for reason in ("bad_pointer", "too_large", "eval_timeout"):
        assert f"<td>{reason}</td>" in page


def test_report_of_a_validator_with_no_rounds_still_draws_its_figures(tmp_path):
    StateStore(tmp_path / "state" / "state.sqlite").close()
    page = report(tmp_path / "state", tmp_path / "out")
    assert_plots_drawn(page)  # each says "no ... yet" rather than being an empty box
    assert '<tr class="empty">' in page


def test_report_without_a_state_database_fails_with_a_message(tmp_path):
    done = subprocess.run([sys.executable, "-m", "validator", "report", "--state.dir", str(tmp_path / "none"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1 and "no validator state" in done.stderr
    assert not (tmp_path / "out").exists()


ROWS_JS = """
(() => {
  const rows = id => [...document.querySelectorAll(`#${id} tbody tr`)].map(tr => [...tr.cells].map(c => c.textContent));
  const imgs = [...document.images].map(i => ({id: i.id, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
                                             shownW: i.clientWidth}));
  return {imgs, rejections: rows('rejections'), c1: rows('leaderboard-c1'), c2: rows('leaderboard-c2'),
          rounds: rows('rounds'), title: document.title};
})()
"""


def test_report_opens_in_a_headless_browser_without_errors(tmp_path):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium installed (apt-get install chromium); CI installs it, this test needs it")
    build_state(tmp_path / "state")
    report(tmp_path / "state", tmp_path / "out")
    with Page(binary) as page:
        page.open(tmp_path / "out" / "report.html")
        seen = page.evaluate(ROWS_JS)
        page.screenshot(tmp_path / "out" / "report.png")
        errors = list(page.errors)
    assert errors == []
    assert seen["title"] == "SN29 validator report"
    assert sorted(i["id"] for i in seen["imgs"]) == sorted(PLOTS)
    for image in seen["imgs"]:
        assert image["complete"] and (image["w"], image["h"]) == (plots.WIDTH, plots.HEIGHT), image
        assert image["shownW"] == plots.WIDTH
    by_reason = {(r[0], r[1]): int(r[2]) for r in seen["rejections"]}
    assert by_reason == {("refused pointer", "bad_pointer"): 3, ("rejected", "too_large"): 3,
                         ("failed", "eval_timeout"): 1}
    assert [r[11] for r in seen["c1"]] == ["", "", "too_large: revision is 9000000000 bytes; limit 200000000",
                                            "eval_timeout: no result in 300 s"]
    assert [r[10] for r in seen["c1"]] == ["evaluated", "evaluated", "rejected", "failed"]
    assert len(seen["c2"]) == 1 and [r[0] for r in seen["rounds"]] == ["120", "110", "100"]
    shot = Image.open(tmp_path / "out" / "report.png")
    assert shot.size[1] > 4 * plots.HEIGHT  # the whole page was laid out, not just a blank window
    if os.environ.get("SN29_KEEP_SCREENSHOT"):
        shot.save(os.environ["SN29_KEEP_SCREENSHOT"])
