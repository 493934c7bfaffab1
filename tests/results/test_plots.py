"""`sweepnn plot`: every chart is written as a valid PNG of the expected size, charts without data are
skipped with a reason, and the learning-rate schedule is recomputed as the trainer sets it."""

from __future__ import annotations

import math
import struct
import textwrap
from pathlib import Path

import pytest
from test_analysis import add_study, recipe_text, storage_at, two_studies

from sweepnn.recipe.loading import load_text

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header; fails unless the file starts as a PNG does."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_plot_writes_every_chart(cli, tmp_path):
    two_studies(storage_at(tmp_path / "results"))
    code, out, err = cli("plot", "plain")
    assert (code, err) == (0, "")
    folder = Path("results/plain/plots")
    names = ["history", "curves", "effect-model.init", "effect-train.optimizer.lr", "importances"]
    names.append("lr-schedule")
    assert out == "".join(f"Wrote {folder / n}.png\n" for n in names)
    for name in names:
        path = tmp_path / folder / f"{name}.png"
        assert png_size(path) == (750, 450)  # 7.5 x 4.5 inches at 100 dpi
        assert 10_000 < path.stat().st_size < 300_000, name  # drawn, not blank, not bloated


def test_plot_skips_charts_without_data(cli, tmp_path):
    storage = storage_at(tmp_path / "results")
    add_study(storage, "one", recipe_text(), [{"value": 0.5, "params": {"model.init": "he_normal"}}])
    code, out, err = cli("plot", "one", "--output", "charts")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "Skipped importances: needs at least 2 completed trials; this study has 1"
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "curves.png",
        "effect-model.init.png",
        "effect-train.optimizer.lr.png",
        "history.png",
        "lr-schedule.png",
    ]
    add_study(storage, "none", recipe_text(), [{"state": "fail", "params": {}}])
    code, out, _ = cli("plot", "none", "--output", "empty")
    assert code == 0
    assert "Wrote" not in out
    assert "Skipped history: no trial completed\n" in out


def test_missing_matplotlib_names_the_extra(cli, tmp_path, monkeypatch):
    import sys

    from sweepnn.errors import InputError
    from sweepnn.results.plots import _pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(InputError) as e:
        _pyplot()
    assert str(e.value) == "plots need matplotlib: pip install 'sweepnn[plot]'"


def test_schedule_curve_is_the_trainers():
    from sweepnn.results.plots import schedule_curve

    text = """\
    train:
      epochs: 4
      optimizer: {name: sgd, lr: 0.1}
      schedule: {name: cosine, warmup: {name: linear, epochs: 1}}
    """
    cfg = load_text(textwrap.dedent(text), "s.yaml", "s")
    xs, ys = schedule_curve(cfg, steps_per_epoch=10)
    assert len(xs) == len(ys) == 40
    assert xs[:3] == [0.0, 0.1, 0.2]
    assert ys[0] == pytest.approx(0.1 / 10)  # warmup starts at lr / warmup steps
    assert ys[9] == pytest.approx(0.1)  # ... and reaches lr at its last step
    # then cosine over the 30 steps left: half way (15 steps after warmup) is half the rate
    assert ys[10 + 15] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 15 / 30)))
    assert ys[-1] < 0.001
