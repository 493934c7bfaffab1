# ruff: noqa: E501  (the expected tables are wider than a line of code)
"""list, compare, show and export, run through the real CLI on fixed studies, with exact output.

The studies come from test_analysis.add_study (values chosen by hand, no training); one test runs a
real tiny sweep and reads it back, so the commands are known to agree with what `sweepnn run` writes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from test_analysis import add_study, recipe_text, seeded_study, storage_at, two_studies


def text(out: str) -> str:
    """Output with each line's trailing blanks removed (rich pads some lines to the table's width)."""
    return "\n".join(line.rstrip() for line in out.splitlines()) + "\n"


@pytest.fixture
def studies(tmp_path):
    """`plain` and `bn` in results/studies.journal of the folder the `cli` fixture runs in."""
    two_studies(storage_at(tmp_path / "results"))


def test_list(cli, studies):
    code, out, err = cli("list")
    assert (code, err) == (0, "")
    assert text(out) == (
        "2 studies\n"
        "┏━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━━━┓\n"
        "┃ study ┃ trials ┃ complete ┃ pruned ┃ failed ┃ running ┃          objective ┃ best ┃ best trial ┃\n"
        "┡━━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━┩\n"
        "│    bn │      3 │        3 │      0 │      0 │       0 │ val_accuracy (max) │  0.9 │          0 │\n"
        "│ plain │      5 │        4 │      1 │      0 │       0 │ val_accuracy (max) │  0.8 │          0 │\n"
        "└───────┴────────┴──────────┴────────┴────────┴─────────┴────────────────────┴──────┴────────────┘\n"
    )


def test_list_without_a_storage_says_how_to_get_one(cli):
    code, out, err = cli("list", "--results", "nowhere")
    assert (code, out) == (2, "")
    assert err == (
        "Error: no studies at nowhere/studies.journal: run `sweepnn run RECIPE` first, or point --storage"
        " or --results at the storage a sweep wrote\n"
    )


def test_compare_best_trials_side_by_side(cli, studies):
    code, out, err = cli("compare")
    assert (code, err) == (0, "")
    # the norm each recipe fixed is what tells the two apart: a column, and the settings table below
    assert text(out) == (
        "Best trial of each study\n"
        "┏━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┓\n"
        "┃ study ┃ trials ┃ complete ┃    objective ┃ best ┃ trial ┃ outcome ┃      init ┃   lr ┃      norm ┃ epochs ┃ time (s) ┃\n"
        "┡━━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━┩\n"
        "│    bn │      3 │        3 │ val_accuracy │  0.9 │     0 │      ok │ he_normal │ 0.03 │ batchnorm │      3 │        2 │\n"
        "│ plain │      5 │        4 │ val_accuracy │  0.8 │     0 │      ok │ he_normal │ 0.01 │      none │      3 │      1.5 │\n"
        "└───────┴────────┴──────────┴──────────────┴──────┴───────┴─────────┴───────────┴──────┴───────────┴────────┴──────────┘\n"
        "Settings the studies set differently (n/a: not in that study's recipe)\n"
        "┏━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━┓\n"
        "┃    setting ┃        bn ┃ plain ┃\n"
        "┡━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━┩\n"
        "│ model.norm │ batchnorm │  none │\n"
        "└────────────┴───────────┴───────┘\n"
    )
    code, out, _ = cli("compare", "--format", "csv")  # for programs: the fixed norm as a column
    assert out == (
        "study,trials,complete,objective,best,trial,outcome,init,lr,norm,epochs,time (s)\n"
        "bn,3,3,val_accuracy,0.9,0,ok,he_normal,0.03,batchnorm,3,2.0\n"
        "plain,5,4,val_accuracy,0.8,0,ok,he_normal,0.01,none,3,1.5\n"
    )


def test_compare_by_one_path_gives_its_marginal_effect(cli, studies):
    code, out, err = cli("compare", "plain", "bn", "--by", "model.init")
    assert (code, err) == (0, "")
    assert text(out) == (
        "val_accuracy (maximize) by model.init: 7 completed trials of plain, bn\n"
        "┏━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━┓\n"
        "┃     model.init ┃ trials ┃   mean ┃    std ┃ best ┃ median rank ┃ best trial ┃\n"
        "┡━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━┩\n"
        "│      he_normal │      3 │    0.8 │    0.1 │  0.9 │           3 │       bn#0 │\n"
        "│ xavier_uniform │      4 │ 0.7125 │ 0.1109 │ 0.85 │           5 │       bn#1 │\n"
        "└────────────────┴────────┴────────┴────────┴──────┴─────────────┴────────────┘\n"
    )
    code, out, _ = cli("compare", "--by", "model.init.name", "--format", "csv")  # the .name spelling too
    assert out == (
        "model.init,trials,mean,std,best,median rank,best trial\n"
        "he_normal,3,0.8000000000000002,0.10000000000000003,0.9,3.0,bn#0\n"
        "xavier_uniform,4,0.7125,0.11086778913041725,0.85,5.0,bn#1\n"
    )


def test_compare_by_two_paths_reads_fixed_values_from_each_recipe(cli, studies):
    # model.norm is searched by neither study: none in one recipe, batchnorm in the other
    code, out, err = cli("compare", "--by", "model.init", "--by", "model.norm", "--format", "markdown")
    assert (code, err) == (0, "")
    assert out == (
        "**best val_accuracy (maximize) and trials by model.init (rows) and model.norm (columns): 7 completed"
        " trials of bn, plain**\n"
        "\n"
        "| model.init \\ model.norm   | batchnorm   | none     |\n"
        "|:--------------------------|:------------|:---------|\n"
        "| he_normal                 | 0.9 (1)     | 0.8 (2)  |\n"
        "| xavier_uniform            | 0.85 (2)    | 0.65 (2) |\n"
    )
    code, out, _ = cli("compare", "--by", "model.init", "--by", "model.norm", "--format", "json")
    assert [(r["model.init"], r["model.norm"], r["trials"], r["best"]) for r in json.loads(out)] == [
        ("he_normal", "batchnorm", 1, 0.9),
        ("he_normal", "none", 2, 0.8),
        ("xavier_uniform", "batchnorm", 2, 0.85),
        ("xavier_uniform", "none", 2, 0.65),
    ]


def test_compare_with_seed_repeats_shows_intervals_and_ties(cli, tmp_path):
    seeded_study(storage_at(tmp_path / "results"))
    code, out, err = cli("compare", "--by", "model.activation")
    assert (code, err) == (0, "")
    assert text(out) == (
        "val_accuracy (maximize) by model.activation: 4 completed trials of seeded\n"
        "┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━┓\n"
        "┃ model.activation ┃ trials ┃ mean ┃    std ┃ best ┃ median rank ┃ best trial ┃ seeds ┃ 95% CI of best ┃ p vs best ┃ tied ┃\n"
        "┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━┩\n"
        "│             relu │      2 │ 0.71 │ 0.1556 │ 0.82 │           2 │          0 │     3 │ 0.7703..0.8697 │           │ best │\n"
        "│             tanh │      1 │  0.8 │        │  0.8 │           2 │          1 │     3 │ 0.7503..0.8497 │    0.2879 │  yes │\n"
        "│          sigmoid │      1 │ 0.52 │        │ 0.52 │           4 │          2 │     3 │ 0.4703..0.5697 │  5.17e-05 │   no │\n"
        "└──────────────────┴────────┴──────┴────────┴──────┴─────────────┴────────────┴───────┴────────────────┴───────────┴──────┘\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["compare", "plian"],
            "no study 'plian'; did you mean 'plain'? studies in this storage: bn, plain",
        ),
        (
            ["show", "bnn"],
            "no study 'bnn'; did you mean 'bn'? studies in this storage: bn, plain",
        ),
        (
            ["compare", "--by", "model.intt"],
            "--by 'model.intt' names no field of a recipe; did you mean 'model.init'? searched in these"
            " studies: model.init, train.optimizer.lr (any other recipe field works too, e.g. model.depth)",
        ),
        (
            ["compare", "--by", "model.init", "--by", "model.init.name"],
            "--by names model.init twice; give two different paths for a two-way table",
        ),
        (
            ["compare", "--by", "a", "--by", "b", "--by", "c"],
            "--by takes one path (marginal effect) or two (two-way table), not 3",
        ),
    ],
)
def test_bad_names_are_errors_that_list_the_choices(cli, studies, args, message):
    code, out, err = cli(*args)
    assert (code, out, err) == (2, "", f"Error: {message}\n")


def test_show(cli, studies):
    code, out, err = cli("show", "plain", "--top", "3")
    assert (code, err) == (0, "")
    lines = text(out).splitlines()
    importances = lines[18:20]
    assert [line.split()[0] for line in importances] == ["lr", "init"]  # the larger first
    assert sum(float(line.split()[-1]) for line in importances) == pytest.approx(1.0, abs=0.002)
    del lines[18:20]  # PED-ANOVA's exact figures are Optuna's business
    assert "\n".join(lines) + "\n" == (
        "Study plain\n"
        "objective val_accuracy (maximize); sampler random; 5 trials (4 ok, 1 pruned)\n"
        "\n"
        "Top 3 trials\n"
        "┏━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━┳━━━━━━━━┓\n"
        "┃ rank ┃ trial ┃ val_accuracy ┃           init ┃   lr ┃ epochs ┃ time (s) ┃ state    ┃ outcome ┃  dead ┃    gap ┃\n"
        "┡━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━╇━━━━━━━━┩\n"
        "│    1 │     0 │          0.8 │      he_normal │ 0.01 │      3 │      1.5 │ complete │      ok │ 0.125 │ 0.0625 │\n"
        "│    2 │     1 │          0.7 │      he_normal │ 0.05 │      3 │      1.5 │ complete │      ok │ 0.125 │ 0.0625 │\n"
        "│    3 │     3 │         0.65 │ xavier_uniform │ 0.02 │      3 │      1.5 │ complete │      ok │ 0.125 │ 0.0625 │\n"
        "└──────┴───────┴──────────────┴────────────────┴──────┴────────┴──────────┴──────────┴─────────┴───────┴────────┘\n"
        "\n"
        "Best configuration\n"
        "trial 0: val_accuracy 0.8\n"
        "  model.init: he_normal\n"
        "  train.optimizer.lr: 0.01\n"
        "\n"
        "Parameter importances\n"
        # 4 completed trials: the warning under the bars, with the command that reads the values
        "Only 4 completed trials: these importances rest on the best 1 (PED-ANOVA reads the best 10%) and"
        " say which values those happened to have; trust them from 50 completed trials on.\n"
        "Compare the values themselves: sweepnn compare plain --by PATH\n"
        "\n"
        "Learning curves\n"
        "val_accuracy per epoch\n"
        "   0.8 ┤                                                       11111\n"
        "       │                                              111111111\n"
        "       │                                      11111111          2222\n"
        "       │                             111111111        22222222223333\n"
        "       │                       111111       22222222223333333333\n"
        "0.5625 ┤                  11111    222222222333333333\n"
        "       │            111111  22222223333333\n"
        "       │      111111  222222333333\n"
        "       │111111 22222223333\n"
        "       │22222223333\n"
        " 0.325 ┤3333\n"
        "       └────────────────────────────────────────────────────────────\n"
        "        1                                                    3 epoch\n"
        "1 = trial 0  2 = trial 1  3 = trial 3\n"
    )


def test_show_says_why_there_are_no_importances(cli, tmp_path):
    storage = storage_at(tmp_path / "results")
    one = [{"value": 0.5, "params": {"model.init": "he_normal", "train.optimizer.lr": 0.01}}]
    add_study(storage, "one", recipe_text(), one)
    add_study(storage, "same", recipe_text(), one * 2)
    _, out, _ = cli("show", "one")
    assert "Parameter importances\nneeds at least 2 completed trials; this study has 1\n" in text(out)
    _, out, _ = cli("show", "same", "--format", "json")
    shown = json.loads(out)
    assert shown["importances"] is None
    assert (
        shown["importances_note"]
        == "needs a searched parameter whose value varies among the completed trials"
    )
    assert shown["best"] == {
        "trial": 0,
        "values": {"val_accuracy": 0.5},
        "params": {"model.init": "he_normal", "train.optimizer.lr": 0.01},
    }
    assert shown["curves"] == [
        {"trial": 0, "metric": "val_accuracy", "values": [0.25, 0.4, 0.5]},
        {"trial": 1, "metric": "val_accuracy", "values": [0.25, 0.4, 0.5]},
    ]


def test_export_formats(cli, studies, tmp_path):
    code, out, _ = cli("export", "bn")
    assert code == 0
    assert out.splitlines()[:2] == [
        "rank,number,state,outcome,objective.val_accuracy,model.init.name,train.optimizer.lr,val_accuracy,"
        "val_loss,train_accuracy,train_loss,train_time,train_eval_accuracy,grad_ratio,signal_ratio,"
        "dead_fraction,saturated_fraction,gradient_pass,update_ratio,grad_norm,grad_norm_clipped,"
        "near_zero_fraction,gap,gap_eval,auc,epochs_to_50%,seconds_to_50%,epochs_to_90%,seconds_to_90%,"
        "late_gain,epochs,seconds,reason",
        # the curve 0.45, 0.72, 0.9 (no training times stored): its mean 0.69; with no trivial
        # predictor's score recorded the default targets are 50% and 90% of the best, 0.45 and 0.81,
        # reached in epochs 1 and 3; three epochs are too few for late_gain
        "1,0,complete,ok,0.9,he_normal,0.03,0.9,0.09999999999999998,,,,,,,0.125,,,,,,,0.0625,,"
        "0.6900000000000001,1,,3,,,3,2.0,",
    ]
    _, out, _ = cli("export", "bn", "--format", "markdown")
    assert out.splitlines()[2] == (
        "|      1 |        0 | complete | ok        |                      0.9 | he_normal         |"
        "                 0.03 |            0.9 |        0.1 |           0.125 | 0.0625 |   0.69 |               1 |"
        "               3 |        3 |         2 |          |"
    )
    code, out, _ = cli("export", "plain", "--format", "json", "--output", "plain.json")
    assert (code, out) == (0, "Wrote 5 trials to plain.json\n")
    rows = json.loads((tmp_path / "plain.json").read_text())
    assert [(r["rank"], r["number"], r["state"]) for r in rows] == [
        (1, 0, "complete"),
        (2, 1, "complete"),
        (3, 3, "complete"),
        (4, 2, "complete"),
        (None, 4, "pruned"),
    ]
    code, out, _ = cli("export", "plain", "--format", "parquet")
    assert (code, out) == (0, "Wrote 5 trials to results/plain/trials.parquet\n")
    back = pd.read_parquet(tmp_path / "results" / "plain" / "trials.parquet")
    assert back["model.init"].tolist() == [
        "he_normal",
        "he_normal",
        "xavier_uniform",
        "xavier_uniform",
        "he_normal",
    ]
    assert back["rank"].tolist()[:4] == [1, 2, 3, 4]


def test_parquet_without_pyarrow_names_the_extra(cli, studies, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec  # pandas itself needs the real pyarrow: hide it from the check only
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "pyarrow" else find_spec(name)
    )
    code, _, err = cli("export", "plain", "--format", "parquet")
    assert (code, err) == (2, "Error: parquet needs pyarrow: pip install 'sweepnn[parquet]'\n")


def test_parquet_without_pyarrow_is_an_input_error(tmp_path, monkeypatch):
    import importlib.util

    from sweepnn.cli.results import _write_parquet
    from sweepnn.errors import InputError

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "pyarrow" else find_spec(name)
    )
    with pytest.raises(InputError) as e:
        _write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    assert str(e.value) == "parquet needs pyarrow: pip install 'sweepnn[parquet]'"


def test_a_real_sweep_reads_back(cli, write_recipe):
    code, _, err = cli("run", write_recipe(), "--quiet")
    assert code == 0, err
    code, out, err = cli("list")
    assert (code, err) == (0, "")
    assert "│  tiny │      3 │" in out
    code, out, err = cli("compare", "tiny", "--by", "model.activation", "--format", "json")
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert {r["model.activation"] for r in rows} <= {"relu", "tanh"}
    assert sum(r["trials"] for r in rows) == 3
    code, out, err = cli("show", "tiny")
    assert (code, err) == (0, "")
    assert "Learning curves\nval_accuracy per epoch\n" in out
    code, out, _ = cli("export", "tiny", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 4


READ_ONLY_COMMANDS = [
    ["list"],
    ["compare", "--by", "model.init"],
    ["compare", "plain", "bn", "--by", "model.init", "--by", "model.norm"],
    ["show", "plain"],
    ["export", "plain", "--format", "json"],
    ["status", "plain"],
]


@pytest.mark.parametrize("args", READ_ONLY_COMMANDS, ids=[" ".join(a) for a in READ_ONLY_COMMANDS])
def test_commands_that_read_studies_never_import_torch(studies, tmp_path, args):
    """Reading a study needs Optuna and pandas, never torch: its import is seconds of every command."""
    code = (
        "import sys; from typer.testing import CliRunner; from sweepnn.cli import app;"
        f"r = CliRunner().invoke(app, {args!r}); assert r.exit_code == 0, r.output;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert (out.returncode, out.stdout.strip()) == (0, "False"), out.stderr
