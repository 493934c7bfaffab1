"""`sweepnn report` as a user runs it: a real sweep (`sweepnn run` in a process of its own), then
`sweepnn report` in another, and the page it wrote opened in a real headless Chromium (the system's,
driven by Playwright; skipped, saying why, where none is installed or it cannot start): it loads
with no console error, fetches nothing but itself, decodes every chart, lists every trial, tints
the failures, and shows HTML in a study's name and description as text.

The browser test takes a screenshot of the page down to its first row of charts; with
SWEEPNN_REPORT_PNG set (to docs/report.png) it is written there, which is how the README's is made:
    SWEEPNN_REPORT_PNG=docs/report.png python -m pytest tests/cli/test_report_cli.py -k browser
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
from pathlib import Path

import optuna
import pytest
from conftest import command_on, sweepnn

from sweepnn import record
from sweepnn.recipe.loading import load_text

RECIPE = """\
name: spirals-opt
description: Which optimizer and learning rate train a small MLP on two spirals?
data: {name: spirals, n_samples: 600, classes: 2}
model: {name: mlp, depth: 2, width: 32}
train: {epochs: 6, batch_size: 32}
search:
  sampler: grid
  pruner: none
  test_top: 1
  save_top: 0
  space:
    train.optimizer.name: [sgd, adam]
    train.optimizer.lr: [0.003, 0.03, 0.3, 30.0]
"""
# what a store from elsewhere may hold: HTML that would run or fetch if the page read it as HTML
HOSTILE_NAME = "<img src=x onerror=\"document.title='pwned'\">"
HOSTILE_DESCRIPTION = "<script>document.title = 'pwned'</script><b>bold</b> & <a href='https://x.test'>x</a>"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chromium-headless-shell")
VIEWPORT = {"width": 1280, "height": 1100}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep, run once: (its folder, its trials as Optuna reads them back). A copy of its study
    under HOSTILE_NAME with HOSTILE_DESCRIPTION is added to the same journal through Optuna's API."""
    tmp = tmp_path_factory.mktemp("report")
    (tmp / "spirals-opt.yaml").write_text(RECIPE)
    code, _, err = command_on(tmp, "run", tmp / "spirals-opt.yaml", timeout=240)
    assert code == 0, err
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp / "results" / "studies.journal"))
    )
    optuna.copy_study(
        from_study_name="spirals-opt", from_storage=storage, to_storage=storage, to_study_name=HOSTILE_NAME
    )
    copy = optuna.load_study(study_name=HOSTILE_NAME, storage=storage)
    copy.set_user_attr(
        record.STUDY_RECIPE, {**copy.user_attrs[record.STUDY_RECIPE], "description": HOSTILE_DESCRIPTION}
    )
    return tmp, optuna.load_study(study_name="spirals-opt", storage=storage).get_trials()


def report(tmp: Path, *args) -> tuple[int, str, str]:
    process = sweepnn("report", *args, "--results", tmp / "results", cwd=tmp)
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


@pytest.mark.slow
def test_report_writes_one_page_with_every_trial_and_the_recipe(swept):
    tmp, trials = swept
    code, out, err = report(tmp, "spirals-opt")
    path = tmp / "results" / "spirals-opt" / "report.html"  # one study: beside its other results
    assert (code, out, err) == (0, f"Wrote {path}\n", "")
    source = path.read_text()
    # self-contained: every address in it is inline data or a place in the page
    addresses = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", source)
    assert addresses and all(a.startswith(("data:image/png;base64,", "#")) for a in addresses), addresses
    assert not re.search(r"https?://", source) and "<script" not in source and "<link" not in source
    # a row per trial in the ranked table
    ranked = source[source.index('<table class="ranked">') :]
    ranked = ranked[: ranked.index("</table>")]
    assert ranked.count("<tr") == 1 + len(trials)
    # the recipe as `sweepnn run` wrote it beside the results (its comment header aside)
    written = (tmp / "results" / "spirals-opt" / "recipe.yaml").read_text()
    body = "".join(line for line in written.splitlines(keepends=True) if not line.startswith("#"))
    assert f"<pre>{html.escape(body)}</pre>" in source


@pytest.mark.slow
def test_several_studies_go_to_one_page_in_the_results_folder(swept):
    tmp, _ = swept
    code, out, err = report(tmp)  # every study in the storage
    path = tmp / "results" / "report.html"
    assert (code, out, err) == (0, f"Wrote {path}\n", "")
    source = path.read_text()
    assert source.count('<table class="ranked">') == 2 and '<table class="best-of-each">' in source


@pytest.fixture
def unswept(tmp_path):
    """A journal holding the study as a sweep opens it, before any trial: enough for the errors."""
    (tmp_path / "results").mkdir()
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "results" / "studies.journal"))
    )
    study = optuna.create_study(study_name="spirals-opt", storage=storage, direction="maximize")
    study.set_user_attr(record.STUDY_RECIPE, load_text(RECIPE, "spirals-opt.yaml").model_dump(mode="json"))
    return tmp_path


def test_an_unknown_study_is_an_error_naming_the_closest(unswept):
    tmp = unswept
    code, out, err = report(tmp, "spirals-op", "-o", tmp / "nope.html")
    assert (code, out) == (2, "")
    assert err.startswith(
        "Error: no study 'spirals-op'; did you mean 'spirals-opt'? studies in this storage: "
    )
    assert not (tmp / "nope.html").exists()


def test_an_output_that_cannot_be_written_is_an_error_before_anything_is_drawn(unswept):
    tmp = unswept
    (tmp / "a-file").write_text("")
    code, out, err = report(tmp, "spirals-opt", "-o", tmp / "a-file" / "report.html")
    assert (code, out) == (2, "")
    assert (
        err
        == f"Error: cannot write {tmp / 'a-file' / 'report.html'}: {tmp / 'a-file'} is a file, not a folder\n"
    )
    code, _, err = report(tmp, "spirals-opt", "-o", tmp)
    assert (
        code == 2
        and err == f"Error: cannot write {tmp}: it is a folder; name the file, e.g. {tmp / 'report.html'}\n"
    )


def chromium() -> str:
    """The system's Chromium; the test is skipped, saying how to install one, where there is none."""
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    pytest.skip("no Chromium: apt-get install chromium")


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


# the ranked table's columns, read from the page (JavaScript run by the test, not by the page)
COLUMN = """name => {
  const t = document.querySelector('table.ranked');
  const i = [...t.tHead.rows[0].cells].findIndex(c => c.textContent === name);
  return [...t.tBodies[0].rows].map(r => [r.cells[i].textContent, getComputedStyle(r).backgroundColor]);
}"""


@pytest.mark.slow
def test_the_page_in_a_real_browser(swept, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright: pip install playwright")
    executable = chromium()
    tmp, trials = swept
    pages = {}
    for study in ("spirals-opt", HOSTILE_NAME):
        pages[study] = tmp_path / f"{len(pages)}.html"
        code, _, err = report(tmp, study, "-o", pages[study])
        assert code == 0, err
    with sync_api.sync_playwright() as playwright:
        try:  # the system's browser: Playwright downloads none
            browser = playwright.chromium.launch(executable_path=executable)
        except sync_api.Error as e:
            pytest.skip(f"Chromium ({executable}) did not start: {e}")
        try:
            page = browser.new_page(viewport=VIEWPORT)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))

            page.goto(pages["spirals-opt"].as_uri(), wait_until="load")
            assert errors == [] and requests == [pages["spirals-opt"].as_uri()]
            widths = page.evaluate("[...document.images].map(i => i.complete ? i.naturalWidth : 0)")
            assert len(widths) >= 5 and all(w > 0 for w in widths), widths
            rows = page.evaluate(COLUMN, "trial")
            assert sorted(int(n) for n, _ in rows) == sorted(t.number for t in trials)
            outcomes = [o for o, _ in page.evaluate(COLUMN, "outcome")]
            tints = {o: bg for o, (_, bg) in zip(outcomes, rows, strict=True)}
            assert tints["diverged"] == "rgb(255, 222, 222)"  # the inline style applied: a failure is red
            assert tints["ok"] == "rgba(0, 0, 0, 0)"
            # the screenshot: from the top to the end of the first row of charts
            bottom = page.evaluate("document.querySelector('.charts figure').getBoundingClientRect().bottom")
            clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": round(bottom) + 8}
            shot = Path(os.environ.get("SWEEPNN_REPORT_PNG") or tmp_path / "report.png")
            page.screenshot(path=shot, clip=clip, full_page=True)
            assert png_size(shot) == (clip["width"], clip["height"])

            requests.clear()
            page.goto(pages[HOSTILE_NAME].as_uri(), wait_until="load")
            assert errors == [] and requests == [pages[HOSTILE_NAME].as_uri()]  # no script ran, no x fetched
            assert page.title() == f"sweepnn report: {HOSTILE_NAME}"
            assert page.locator("h2", has_text="Study").inner_text() == f"Study {HOSTILE_NAME}"
            assert page.locator("p.description").inner_text() == HOSTILE_DESCRIPTION
            assert page.evaluate("document.querySelectorAll('script, b, a[href^=http]').length") == 0
        finally:
            browser.close()
