"""`data.augment` searched as whole settings, through the real commands on real PNG and JPEG files:
`sweepnn validate` reports a bad choice at its key path, `sweepnn run` trains every setting of a grid,
`sweepnn compare --by data.augment` groups by them, best.yaml trains the best setting again, and the
shipped recipes/augment_choice.yaml runs on the images it names."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml
from conftest import command_on, rows, sweepnn

from tests.data.test_image_folder import write_shapes

ROOT = Path(__file__).resolve().parents[2]
CHOICES = "[none, {crop: {padding: 2}}, {flip: true}, {crop: {padding: 2}, flip: true}]"

RECIPE = """\
description: which whole augmentation setting
data: {{name: image_folder, path: {path}, size: 16, val_fraction: 0.3}}
model: {{name: cnn, channels: [4]}}
train: {{epochs: 2, batch_size: 16}}
search:
  sampler: grid
  pruner: none
  test_top: 2
  space:
    data.augment: {choices}
"""


def write(tmp_path: Path, choices: str = CHOICES) -> Path:
    folder = tmp_path / "shapes"
    if not folder.exists():
        write_shapes(folder, per_class=10, test=4)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(path=folder, choices=choices))
    return recipe


def test_validate_reports_each_bad_setting_at_its_key_path(tmp_path):
    code, out, err = command_on(tmp_path, "validate", write(tmp_path), timeout=60)
    assert code == 0 and out.strip().endswith("r.yaml: ok"), out + err
    bad = write(tmp_path, "[none, {crop: {padding: 99}}, {flp: true}, {shift: {samples: 2}}]")
    code, out, err = command_on(tmp_path, "validate", bad, timeout=60)
    text = " ".join(err.split())
    assert code == 2 and "Traceback" not in err, out + err
    at = f"{bad}:10:5: search.space['data.augment']"
    assert f"{at}.choices[1].crop.padding: must be at most 64 (got 99)" in text, text
    assert f"{at}.choices[2].flp: unknown key 'flp'; did you mean 'flip'? valid keys: crop, flip," in text
    # the data's kind is checked once each choice is valid on its own, as for a fixed data.augment
    bad = write(tmp_path, "[none, {shift: {samples: 2}}]")
    code, out, err = command_on(tmp_path, "validate", bad, timeout=60)
    text = " ".join(err.split())
    assert code == 2, out + err
    assert f"{at}.choices[1]: data.augment = {{'shift': {{'samples': 2}}}}: shift augments signal" in text
    assert "but image_folder is image data; for it use: crop, flip, noise, rotate, translate" in text


def test_run_compare_and_the_best_recipe(tmp_path):
    recipe = write(tmp_path)
    code, out, err = command_on(tmp_path, "run", recipe, timeout=240)
    assert code == 0, out + err
    trials = rows(tmp_path / "results" / "r")
    assert len(trials) == 4 and all(t["state"] == "complete" for t in trials), trials
    assert "crop(padding=2), flip" in out  # the table names a setting by what it switches on

    by = ["--results", tmp_path / "results", "--format", "csv"]
    process = sweepnn("compare", "r", "--by", "data.augment", *by, cwd=tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    groups = {row["data.augment"] for row in csv.DictReader(io.StringIO(out))}
    assert groups == {"none", "crop(padding=2)", "flip", "crop(padding=2), flip"}, out
    # a section no study searches whole is still no value to group by
    process = sweepnn("compare", "r", "--by", "train.regularization", *by, cwd=tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "'train.regularization' is a section, not a value" in err, err

    best = tmp_path / "results" / "r" / "best.yaml"
    written = yaml.safe_load(best.read_text())
    number = int(written["name"].removeprefix("r-trial"))
    chosen = next(t for t in trials if int(t["number"]) == number)["data.augment"]
    assert "search" not in written or not written["search"].get("space")
    assert ("crop" in written["data"]["augment"]) == ("crop" in chosen), (chosen, written["data"])
    code, out, err = command_on(tmp_path, "run", best, timeout=120)
    assert code == 0, out + err
    again = rows(tmp_path / "results" / f"r-trial{number}")
    assert len(again) == 1 and again[0]["state"] == "complete"


def test_the_shipped_recipe_runs_on_the_images_it_names(tmp_path):
    """recipes/augment_choice.yaml reads data/shapes where it runs: written there here."""
    write_shapes(tmp_path / "data" / "shapes", per_class=20, test=4)
    process = sweepnn(
        "run",
        ROOT / "recipes" / "augment_choice.yaml",
        "--smoke",
        "--device",
        "cpu",
        "--quiet",
        "--results",
        "results",
        cwd=tmp_path,
    )
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    trials = rows(tmp_path / "results" / "augment_choice-smoke")
    assert len(trials) == 3 and all(t["state"] == "complete" for t in trials), trials
