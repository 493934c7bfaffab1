"""Sweeps as CI checks: a bar the best trial must clear, a JUnit report, a GitHub step summary.

`sweepnn run RECIPE --smoke --fail-under val_accuracy=0.80` fails (exit 1) when the best trial misses
the bar, saying by how much. A bar is in the metric's own good direction: at least the value for a
score (accuracy, R^2), at most the value for a loss or a time. `--junit FILE` writes one test case
per trial and one per bar, for CI dashboards; when GitHub Actions sets GITHUB_STEP_SUMMARY the study's
summary is appended to that page.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn import record
from sweepnn.errors import InputError, SweepnnError, choices_text, did_you_mean
from sweepnn.options.metrics import METRICS
from sweepnn.untrusted import safe_text

# Scores on the test split (see sweepnn.training.holdout) can carry a bar too; they are maximized.
_TEST_METRICS = {"test_accuracy": "maximize", "test_r2": "maximize", "test_loss": "minimize"}


@dataclass(frozen=True)
class Bar:
    """A `--fail-under` bar: the best trial's `metric` must be at least `value` for a score, at most `value`
    for a loss or a time (`maximize` says which)."""

    metric: str
    value: float

    @property
    def maximize(self) -> bool:
        if self.metric in _TEST_METRICS:
            return _TEST_METRICS[self.metric] == "maximize"
        return METRICS[self.metric].direction == "maximize"

    def __str__(self) -> str:
        return f"{self.metric} {'>=' if self.maximize else '<='} {self.value:g}"


@dataclass(frozen=True)
class Verdict:
    """One bar against the best trial: `passed` is False when its value misses the bar or it has no value of
    that metric; str() says by how much."""

    bar: Bar
    got: float | None  # the best trial's value of the metric; None when it has none

    @property
    def passed(self) -> bool:
        if self.got is None:
            return False
        return self.got >= self.bar.value if self.bar.maximize else self.got <= self.bar.value

    def __str__(self) -> str:
        if self.got is None:
            return f"{self.bar.metric}: the best trial has no such value, so the bar {self.bar} is missed"
        if self.passed:
            return f"{self.bar.metric} {self.got:.4f} clears the bar {self.bar}"
        side = "below" if self.bar.maximize else "above"
        return (
            f"{self.bar.metric} {self.got:.4f} is {side} the bar {self.bar.value:g}"
            f" by {abs(self.got - self.bar.value):.4f}"
        )


def parse_bar(text: str) -> Bar:
    """'val_accuracy=0.80' -> Bar; a clear error for anything else."""
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    valid = [*METRICS, *_TEST_METRICS]
    if not sep:
        raise InputError(f"--fail-under {text!r}: write METRIC=VALUE, e.g. val_accuracy=0.80")
    if metric not in valid:
        raise InputError(
            f"--fail-under {text!r}: unknown metric '{metric}';{did_you_mean(metric, valid)}"
            f" valid: {choices_text(valid)}"
        )
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"--fail-under {text!r}: {value!r} is not a number") from None
    return Bar(metric, number)


def judge(bars: list[Bar], trial, test_scores: dict[str, float]) -> list[Verdict]:
    """Each bar against the best trial's final metrics (and its test scores)."""
    metrics = {**(trial.user_attrs.get(record.METRICS) or {}), **test_scores}
    return [Verdict(bar, metrics.get(bar.metric)) for bar in bars]


def junit_xml(runs: list[tuple[Any, Any]], verdicts: list[Verdict]) -> str:
    """A JUnit report: a test suite per study of (study, recipe) `runs` with one test case per trial
    (pruned ones skipped, failed ones failing), then the bars as test cases of the first suite."""
    root = ET.Element("testsuites")
    for i, (study, recipe) in enumerate(runs):
        suite = ET.SubElement(root, "testsuite", name=recipe.name)
        failures = skipped = 0
        judged = record.judged(study.get_trials(deepcopy=False))
        for t in study.get_trials(deepcopy=False):
            case = ET.SubElement(suite, "testcase", classname=recipe.name, name=f"trial {t.number}")
            case.set("time", f"{t.user_attrs.get('seconds', 0.0):.3f}")
            outcome = safe_text(record.outcome_of(t, judged) or t.state.name.lower())
            # stored text: XML 1.0 has no way to write most control characters, so they are escapes
            reason = safe_text(record.reason_of(t, judged), multiline=True)
            if t.state.name == "PRUNED":
                skipped += 1
                ET.SubElement(case, "skipped", message=reason or "pruned")
            elif outcome == "failed":  # an error inside the trial: worth a red mark
                failures += 1
                ET.SubElement(case, "failure", message=reason)
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"outcome: {outcome}" + (f" ({reason})" if reason else "")
        for v in verdicts if i == 0 else []:
            case = ET.SubElement(suite, "testcase", classname=recipe.name, name=f"fail-under {v.bar}")
            if not v.passed:
                failures += 1
                ET.SubElement(case, "failure", message=str(v))
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
        suite.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, text: str) -> None:
    """Write the JUnit report `text` to `path` atomically; an OSError is a SweepnnError naming the file."""
    from sweepnn.atomic import atomic_write

    try:
        atomic_write(path, text)
    except OSError as e:
        raise SweepnnError(f"cannot write the JUnit report {path}: {e.strerror or e}") from None


def append_step_summary(markdown: str, verdicts: list[Verdict], env: dict[str, Any] | None = None) -> bool:
    """Append to GitHub's step summary page when running under GitHub Actions; True if written."""
    path = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    lines = [safe_text(markdown.rstrip(), multiline=True), ""]
    lines += [f"- {'✅' if v.passed else '❌'} {v}" for v in verdicts]
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")
    return True
