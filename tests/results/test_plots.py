"""`sweepnn plot`: every chart is written as a valid PNG of the expected size, charts without data are
skipped with a reason, the learning-rate schedule is recomputed as the trainer sets it, and a real
sweep gets its performance profiles and sensitivity curves (in process, and as the command run)."""

from __future__ import annotations

import math
import struct
import textwrap
from pathlib import Path

import pytest
from conftest import sweepnn
from test_analysis import add_study, recipe_text, storage_at, two_studies
from test_profiles import real_sweep

from sweepnn.recipe.loading import load_text

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The learning curves over the legend of their 4 trials (these studies record only val_accuracy: one
# panel), the parallel coordinates (a colour bar beside them)
SIZES = {"curves": (750, 540), "parallel": (750, 480)}


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
    names = ["history", "curves", "effect-model.init", "effect-train.optimizer.lr", "parallel"]
    names += ["importances", "lr-schedule", "sensitivity-train.optimizer.lr"]
    assert out == "".join(f"Wrote {folder / n}.png\n" for n in names) + (
        "Skipped profile-model.init: no trial reached val_accuracy >= 0.72 with its training time recorded"
        " (1 reached it without: --time epochs)\n"  # these fixed studies' curves have no seconds
    )
    for name in names:
        path = tmp_path / folder / f"{name}.png"
        assert png_size(path) == SIZES.get(name, (750, 450)), name  # 7.5 x 4.5 inches at 100 dpi
        assert 10_000 < path.stat().st_size < 300_000, name  # drawn, not blank, not bloated


def test_plot_skips_charts_without_data(cli, tmp_path):
    storage = storage_at(tmp_path / "results")
    add_study(storage, "one", recipe_text(), [{"value": 0.5, "params": {"model.init": "he_normal"}}])
    code, out, err = cli("plot", "one", "--output", "charts")
    assert (code, err) == (0, "")
    assert out.splitlines()[-2:] == [
        "Skipped importances: needs at least 2 completed trials; this study has 1",
        "Skipped profile-model.init: no trial reached val_accuracy >= 0.45 with its training time recorded"
        " (1 reached it without: --time epochs)",
    ]
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "curves.png",
        "effect-model.init.png",
        "effect-train.optimizer.lr.png",
        "history.png",
        "lr-schedule.png",
        "parallel.png",
        "sensitivity-train.optimizer.lr.png",
    ]
    add_study(storage, "none", recipe_text(), [{"state": "fail", "params": {}}])
    code, out, _ = cli("plot", "none", "--output", "empty")
    assert code == 0
    assert "Wrote" not in out
    assert "Skipped history: no trial completed\n" in out
    assert (
        "Skipped profile-model.init: no trial completed to set a target from: give one, e.g. --target" in out
    )
    assert "Skipped sensitivity-train.optimizer.lr: no trial completed\n" in out


def assert_drawn(path: Path) -> None:
    assert png_size(path) == (750, 450), path.name
    assert 10_000 < path.stat().st_size < 300_000, path.name  # drawn, not blank, not bloated


def test_profiles_in_epochs_and_the_options_that_choose_them(cli, tmp_path):
    two_studies(storage_at(tmp_path / "results"))
    code, out, err = cli("plot", "plain", "--time", "epochs", "--target", "val_accuracy=0.7", "-o", "e")
    assert (code, err) == (0, "")
    assert "Wrote e/profile-model.init.png\n" in out
    assert_drawn(tmp_path / "e" / "profile-model.init.png")
    code, out, err = cli("plot", "plain", "--by", "train.optimizer.lr", "--time", "epochs", "-o", "lr")
    assert (code, err) == (0, "")
    # --by a range: its quartiles are the profile's options; there is no sensitivity along itself
    assert "Wrote lr/profile-train.optimizer.lr.png\n" in out and "sensitivity" not in out
    assert "profile-model.init" not in out
    for args, message in [
        (["--time", "steps"], "Error: --time 'steps': one of seconds, epochs\n"),
        (["--target", "val_acc=0.6"], "Error: --target 'val_acc=0.6': unknown metric 'val_acc';"),
        (["--by", "model.intt"], "Error: --by 'model.intt' names no field of a recipe; did you mean"),
    ]:
        code, out, err = cli("plot", "plain", *args)
        assert (code, out) == (2, "") and err.startswith(message), err


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    """A folder where a real sweep of two optimizers at two learning rates ran (test_profiles.REAL)."""
    return real_sweep(tmp_path_factory.mktemp("plots"))


def test_a_real_sweep_gets_its_profiles_and_sensitivity_curves(swept, tmp_path):
    from sweepnn.results.plots import write_plots
    from sweepnn.sweep import reading

    stored = reading.load_studies(reading.open_for_reading(None, swept / "results"), ["speed"])[0]
    written, skipped = write_plots(stored, tmp_path / "plots")
    new = [
        "profile-train.optimizer.png",
        "profile-train.optimizer.lr.png",
        "profile-model.norm.png",
        "sensitivity-train.optimizer.lr.png",
    ]
    assert [p.name for p in written][-4:] == new and skipped == []
    for name in new:
        assert_drawn(tmp_path / "plots" / name)


def test_the_plot_command_times_to_a_target_by_a_path(swept):
    """`sweepnn plot STUDY --target val_accuracy=0.6 --by train.optimizer.name`, a process of its own."""
    process = sweepnn(
        "plot",
        "speed",
        "--target",
        "val_accuracy=0.6",
        "--by",
        "train.optimizer.name",
        "-o",
        "charts",
        cwd=swept,
    )
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    lines = out.splitlines()
    # the one profile asked for, and the sensitivity to the learning rate a curve per optimizer
    assert [line for line in lines if "profile" in line or "sensitivity" in line] == [
        "Wrote charts/profile-train.optimizer.png",
        "Wrote charts/sensitivity-train.optimizer.lr.png",
    ]
    assert not any(line.startswith("Skipped") for line in lines), out
    assert_drawn(swept / "charts" / "profile-train.optimizer.png")
    assert_drawn(swept / "charts" / "sensitivity-train.optimizer.lr.png")


def test_missing_matplotlib_names_the_extra(cli, tmp_path, monkeypatch):
    import sys

    from sweepnn.errors import InputError
    from sweepnn.results.plot_base import pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(InputError) as e:
        pyplot()
    assert str(e.value) == "plots need matplotlib: pip install 'sweepnn[plot]'"


def test_schedule_curve_is_the_trainers():
    from sweepnn.results.plot_training import schedule_curve

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
