"""Sweeps as CI checks, through the real command: bars, JUnit reports, GitHub step summaries."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from sweepnn.results.ci import Bar, Verdict, parse_bar


def test_bars_read_metric_and_value_in_the_metrics_direction():
    assert parse_bar("val_accuracy=0.8") == Bar("val_accuracy", 0.8)
    assert Verdict(Bar("val_accuracy", 0.8), 0.8).passed
    assert not Verdict(Bar("val_accuracy", 0.8), 0.79).passed
    assert Verdict(Bar("val_loss", 0.5), 0.4).passed  # a loss must stay at or under its bar
    assert not Verdict(Bar("val_loss", 0.5), 0.6).passed
    assert (
        str(Verdict(Bar("val_accuracy", 0.8), 0.7625)) == "val_accuracy 0.7625 is below the bar 0.8 by 0.0375"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("val_accuracy", "--fail-under 'val_accuracy': write METRIC=VALUE, e.g. val_accuracy=0.80"),
        ("val_acuracy=0.8", "unknown metric 'val_acuracy'; did you mean 'val_accuracy'?"),
        ("val_accuracy=high", "--fail-under 'val_accuracy=high': 'high' is not a number"),
    ],
)
def test_a_bad_bar_is_bad_input_before_any_training(cli, write_recipe, tmp_path, text, message):
    code, _, err = cli("run", write_recipe(), "--fail-under", text)
    assert code == 2 and message in err
    assert not (tmp_path / "results").exists()


def test_a_missed_bar_exits_1_and_says_by_how_much(cli, write_recipe, tmp_path):
    code, out, err = cli("run", write_recipe(), "--device", "cpu", "--fail-under", "val_accuracy=1.01")
    assert code == 1
    assert "FAIL val_accuracy" in out and "is below the bar 1.01 by" in out
    assert "Error: the best trial misses the bar: val_accuracy" in err
    code, out, _ = cli("run", write_recipe(), "--device", "cpu", "--fail-under", "val_accuracy=0")
    assert code == 0 and "PASS val_accuracy" in out and "clears the bar val_accuracy >= 0" in out


def test_junit_report_and_github_step_summary(cli, write_recipe, tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier steps\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    report = tmp_path / "reports" / "junit.xml"
    code, _, _ = cli("run", write_recipe(), "--smoke", "--fail-under", "val_accuracy=1.01", "--junit", report)
    assert code == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites" and len(root) == 1
    suite = root[0]
    assert suite.tag == "testsuite" and suite.get("name") == "tiny-smoke"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "trial 0",
        "trial 1",
        "trial 2",
        "fail-under val_accuracy >= 1.01",
    ]
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    assert cases[-1].find("failure").get("message").startswith("val_accuracy ")
    text = summary.read_text()
    assert text.startswith("earlier steps\n# Study `tiny-smoke`")  # appended, not overwritten
    assert "❌ val_accuracy" in text and "## Ranked trials" in text
