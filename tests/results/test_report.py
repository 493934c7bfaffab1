"""The HTML report (sweepnn.results.report_html), built in process from fixed studies
(test_analysis.add_study, values chosen by hand) and read back with the standard library's HTML
parser, as a browser would build it: every trial in the ranked table in the trials frame's order and
tinted by its outcome, each reason, compare's tables, the charts (the very PNGs `sweepnn plot` writes,
inlined), the recipe that loads back, stored text shown as text, nothing fetched, and a page
without matplotlib. The page in a real browser: tests/cli/test_report_cli.py.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import sys
from datetime import datetime, timezone
from html.parser import HTMLParser

import optuna
import pytest
from test_analysis import add_study, recipe_text, storage_at, two_studies

from sweepnn.errors import InputError
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.variants import to_yaml
from sweepnn.results import effects
from sweepnn.results.report_html import NO_CHARTS, report_html, write_report
from sweepnn.results.tables import fmt, trials_frame
from sweepnn.sweep import reading

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
DIVERGED = "loss exploded to 3.1e+04 at step 2 (epoch 1)"
DEAD = "81% of the units of activation layer 1 are dead"
# HTML that would run, fetch or restyle if it were read as HTML, and a terminal escape
HOSTILE = '<script>alert("d")</script> & <img src=x onerror=alert(1)> <b>bold</b> \x1b[31mred'
TRIALS = [
    {"value": 0.80, "params": {"model.init": "he_normal", "train.optimizer.lr": 0.01}},
    {"value": 0.60, "params": {"model.init": "xavier_uniform", "train.optimizer.lr": 0.002}},
    {
        "value": 0.55,
        "params": {"model.init": "he_normal", "train.optimizer.lr": 0.05},
        "outcome": "dead",
        "reason": DEAD,
    },
    {
        "state": "fail",
        "params": {"model.init": "xavier_uniform", "train.optimizer.lr": 0.09},
        "outcome": "diverged",
        "reason": DIVERGED,
    },
    {"state": "pruned", "value": 0.3, "params": {"model.init": "he_normal", "train.optimizer.lr": 0.08}},
]


class Page(HTMLParser):
    """The parts of a page these tests read: each table (its class, header and rows, a row as its
    class and its cells' text), the facts (each <dt> with its <dd>), every start tag with its
    attributes, and all the text."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.facts: dict[str, str] = {}
        self._cell: list[str] | None = None
        self._term = ""
        self.feed(source)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self.tables.append({"name": attrs.get("class", ""), "head": [], "rows": []})
        elif tag == "tr":
            self._row = (attrs.get("class", ""), [])
        elif tag in ("td", "th", "dt", "dd"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            cell, self._cell = "".join(self._cell or []), None
            (self.tables[-1]["head"] if tag == "th" else self._row[1]).append(cell)
        elif tag in ("dt", "dd"):
            cell, self._cell = "".join(self._cell or []), None
            if tag == "dt":
                self._term = cell
            else:
                self.facts[self._term] = cell
        elif tag == "tr" and self._row[1]:
            self.tables[-1]["rows"].append(self._row)

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, name: str) -> dict:
        return next(t for t in self.tables if t["name"] == name)

    def column(self, name: str, header: str) -> list[str]:
        t = self.table(name)
        i = t["head"].index(header)
        return [cells[i] for _, cells in t["rows"]]

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """`plain`: ok, dead, diverged and pruned trials, opened as the reading commands open it."""
    storage = storage_at(tmp_path_factory.mktemp("report"))
    add_study(storage, "plain", recipe_text(), TRIALS)
    return reading.load_studies(storage, ["plain"])[0]


@pytest.fixture(scope="module")
def page(study) -> tuple[str, Page]:
    source = report_html([study], NOW)
    return source, Page(source)


def test_the_ranked_table_has_every_trial_in_order_tinted_by_its_outcome(study, page):
    _, p = page
    frame = trials_frame(study.study, study.recipe)
    assert p.column("ranked", "trial") == [str(n) for n in frame["number"]]
    assert p.column("ranked", "outcome") == list(frame["outcome"])
    assert p.column("ranked", "val_accuracy") == [fmt(v) for v in frame["objective.val_accuracy"]]
    tints = dict(zip(p.column("ranked", "trial"), (c for c, _ in p.table("ranked")["rows"]), strict=True))
    # as the terminal colours them: ok plain, a problem yellow, no training red
    assert (tints["0"], tints["2"], tints["3"], tints["4"]) == ("", "o-yellow", "o-red", "o-yellow")


def test_each_trial_that_did_not_train_well_is_listed_with_its_reason(study, page):
    _, p = page
    frame = trials_frame(study.study, study.recipe)
    bad = frame[frame["outcome"] != "ok"]
    assert p.column("outcomes", "trial") == [str(n) for n in bad["number"]]
    assert p.column("outcomes", "reason") == list(bad["reason"])
    reasons = dict(zip(p.column("outcomes", "trial"), p.column("outcomes", "reason"), strict=True))
    assert (reasons["2"], reasons["3"]) == (DEAD, DIVERGED)


def test_the_effect_of_each_searched_path_is_compares_table(study, page):
    _, p = page
    df, direction = effects.trials_for([study], ["model.init"])
    table = effects.marginal(df, "model.init", direction, "val_accuracy")
    effect = next(t for t in p.tables if t["head"][:2] == ["model.init", "trials"])
    assert [cells[:3] for _, cells in effect["rows"]] == [
        [fmt(v) for v in row] for row in table[["model.init", "trials", "mean"]].itertuples(index=False)
    ]
    assert "val_accuracy (maximize) by model.init: 3 completed trials of plain" in p.text


def test_the_recipe_and_the_best_trial_load_back(study, page):
    _, p = page
    best_pre, recipe_pre = [t for t in p.text if t.startswith("name: ")]  # the two <pre> blocks
    assert recipe_pre == to_yaml(study.recipe)
    best = load_text(best_pre, "best.yaml")
    assert (best.model.init.name, best.train.optimizer.lr) == ("he_normal", 0.01)  # trial 0's values
    assert "trial 0: val_accuracy 0.8" in p.text


def test_the_importances_come_with_the_trials_behind_them_and_their_caveat(study, page):
    from sweepnn.sweep.reading import importance_caveat

    _, p = page
    values, _ = reading.param_importances(study.study)
    importances = next(t for t in p.tables if t["head"] == ["path", "importance"])
    assert [cells for _, cells in importances["rows"]] == [[k, fmt(v)] for k, v in values.items()]
    assert "PED-ANOVA (Optuna), from 3 completed trials" in p.text
    # 3 trials are far below the floor: said beside the table, naming the study to compare instead
    assert importance_caveat(3).replace("STUDY", study.name) in p.text


def test_every_chart_is_the_png_plot_draws_inlined(study, page, tmp_path):
    pytest.importorskip("matplotlib")
    from sweepnn.results.plots import write_plots

    _, p = page
    written, skipped = write_plots(study, tmp_path)
    images = [a["src"] for a in p.all("img")]
    assert len(images) == len(written) >= 5
    for src, path in zip(images, written, strict=True):
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data, validate=True) == path.read_bytes()  # the very same chart
    assert [a["alt"] for a in p.all("img")] == [_words(path.stem) for path in written]
    assert all(note in p.text for note in skipped)  # what could not be drawn is said


def _words(stem: str) -> str:
    text = stem.replace("-", " ", 1)
    return text[0].upper() + text[1:]


def test_the_page_asks_the_network_for_nothing(page):
    source, p = page
    assert "<script" not in source.lower() and not p.all("link")
    for tag, attrs in p.tags:
        assert attrs.get("src", "data:image/").startswith("data:image/"), tag
        assert attrs.get("href", "#").startswith("#"), tag
    policy = next(a["content"] for a in p.all("meta") if a.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none'; img-src data:")


def test_the_environment_names_the_versions_and_the_time(page):
    _, p = page
    facts = p.facts
    assert facts["generated"] == "2026-01-02 03:04:05 UTC"
    assert facts["torch"] == importlib.metadata.version("torch")
    assert facts["optuna"] == optuna.__version__
    assert facts["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")


def test_stored_text_is_shown_as_text_never_read_as_html(tmp_path):
    storage = storage_at(tmp_path)
    hostile = [*TRIALS[:3], {**TRIALS[3], "reason": f"</td></tr></table>{HOSTILE}"}]
    text = f"description: {json.dumps(HOSTILE)}\n" + recipe_text()  # JSON strings are YAML, \u001b and all
    add_study(storage, "plain", text, hostile)
    optuna.copy_study(
        from_study_name="plain", from_storage=storage, to_storage=storage, to_study_name=HOSTILE
    )
    [s] = reading.load_studies(storage, [HOSTILE])
    source = report_html([s], NOW)
    p = Page(source)
    assert "<script" not in source.lower() and "\x1b" not in source
    assert not p.all("img") or all(a["src"].startswith("data:image/png") for a in p.all("img"))
    assert not p.all("b") and not [a for _, a in p.tags if "onerror" in a]
    shown = HOSTILE.replace("\x1b", "\\x1b")  # a terminal escape, shown as one (sweepnn.untrusted)
    assert f"sweepnn report: {shown}" in p.text and f"Study {shown}" in p.text  # the study's name
    assert shown in p.text  # the description, whole, as text
    assert p.column("outcomes", "reason")[-1] == f"</td></tr></table>{shown}"


def test_without_matplotlib_the_charts_are_a_note_and_the_rest_is_written(study, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    path = tmp_path / "out" / "report.html"
    assert write_report([study], path, NOW) == [NO_CHARTS]
    p = Page(path.read_text())
    assert not p.all("img")
    assert f"No charts: {NO_CHARTS}." in p.text
    assert len(p.table("ranked")["rows"]) == len(TRIALS)
    assert [f.name for f in path.parent.iterdir()] == ["report.html"]  # written whole: no temporary file


def test_several_studies_get_compares_tables_and_a_section_each(tmp_path):
    pytest.importorskip("matplotlib")
    storage = storage_at(tmp_path)
    two_studies(storage)
    studies = reading.load_studies(storage, ["plain", "bn"])
    p = Page(report_html(studies, NOW))
    assert [a["href"] for a in p.all("a")] == ["#study-0", "#study-1"]
    assert {a["id"] for a in p.all("section")} == {"study-0", "study-1"}
    best = effects.side_by_side(studies)
    assert p.column("best-of-each", "study") == list(best["study"]) == ["bn", "plain"]
    assert p.column("best-of-each", "best") == ["0.9", "0.8"]
    # compare --by model.init over both studies, pooled (tests/results/test_results_cli.py's figures)
    assert "val_accuracy (maximize) by model.init: 7 completed trials of plain, bn" in p.text
    pooled = next(t for t in p.tables if t["head"][:2] == ["model.init", "trials"])
    assert [cells[:2] for _, cells in pooled["rows"]] == [["he_normal", "3"], ["xavier_uniform", "4"]]
    assert len([t for t in p.tables if t["name"] == "ranked"]) == 2


def test_a_folder_or_a_path_through_a_file_is_refused_before_anything_is_drawn(study, tmp_path):
    with pytest.raises(InputError, match=r"it is a folder; name the file, e\.g\. .*report\.html"):
        write_report([study], tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="file is a file, not a folder"):
        write_report([study], tmp_path / "file" / "report.html")
