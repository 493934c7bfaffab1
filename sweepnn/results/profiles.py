"""The figures behind two charts of `sweepnn plot`, as frames that can be checked by hand.

Performance profiles (Dolan & Moré 2002, as MLCommons AlgoPerf ranks training algorithms, Dahl et
al. 2023): for one recipe path P, its values are the options and every combination of the study's
other searched values is a setting (a problem, in the paper's words). In each setting an option's time
to the target is its fastest trial's (seconds of training, or epochs); t* is the fastest option's;
an option's ratio there is t / t*, infinite when it never reached the target. Its profile rho(tau) is
the share of the settings whose ratio is at most tau: rho(1) the share it was the fastest in, the
height it ends at the share it reached the target in at all. The settings are the values of the other
searched choices (a grid's learning rates `[0.001, 0.01]` among them); a searched range is tuned over,
as AlgoPerf tunes each algorithm: an option's time in a setting is its fastest trial's at any value.

Sensitivity curves (DeepOBS, Schneider et al. 2019): the objective of every completed trial against a
numeric path (the learning rate), a curve per value of a choice path (the optimizer).

No matplotlib here (sweepnn.results.plots draws); the studies come opened from sweepnn.sweep.reading.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sweepnn import record, speed
from sweepnn.errors import InputError, choices_text, did_you_mean
from sweepnn.options.metrics import METRICS
from sweepnn.results.analysis import NA, PathValues, canonical, completed_frame, levels
from sweepnn.results.values import params_of
from sweepnn.speed import finite as _finite
from sweepnn.sweep.reading import Stored

UNITS = ("seconds", "epochs")  # what a time to the target is counted in
# Trials that trained and so had their chance at the target; an interrupted or crashed attempt did not.
TRIED = ("complete", "pruned", "failed")
TAU_MIN_SPAN = 2.0  # a profile's x axis reaches at least this ratio, so a one-step curve has room


# ---- the target ------------------------------------------------------------------------------------


def parse_target(text: str) -> dict[str, float]:
    """'val_accuracy=0.6' -> {'val_accuracy': 0.6}; a clear error for anything else."""
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    valid = list(METRICS)
    if not sep:
        raise InputError(f"--target {text!r}: write METRIC=VALUE, e.g. val_accuracy=0.6")
    if metric not in METRICS:  # a user's own metric is one too (not listed among the built-ins)
        raise InputError(
            f"--target {text!r}: unknown metric '{metric}';{did_you_mean(metric, valid)}"
            f" valid: {choices_text(valid)}"
        )
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"--target {text!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"--target {text!r}: {value.strip()} is not a value a run can reach")
    return {metric: number}


def target_of(s: Stored, given: dict[str, float] | None = None) -> speed.Target | str:
    """The one target a chart times to: `given` (the command's), else the recipe's search.target, else
    speed.SHOWN_FRACTION of the way from a trivial predictor to the study's best on its first
    objective: the target of trials.csv's columns (sweepnn.results.speed_columns), so a chart and the
    table agree. A string says why there is none (no trial completed)."""
    from sweepnn.results.speed_columns import shown_target

    target = shown_target(s.study.get_trials(deepcopy=False), s.recipe, given)
    return target or "no trial completed to set a target from: give one, e.g. --target val_accuracy=0.9"


# ---- performance profiles --------------------------------------------------------------------------


def choice_paths(s: Stored) -> list[str]:
    """The searched paths that choose among values (a list of choices), canonical, in recipe order."""
    return list(dict.fromkeys(canonical(p) for p, spec in s.recipe.search.space.items() if not spec.is_range))


@dataclass(frozen=True)
class Times:
    """Each trial that trained, timed to a target: `frame` has trial, option (the value at the profile's
    path), setting (a tuple of the values at `setting_paths`) and time (inf where it never reached the
    target). `tuned`: the other searched paths that are no part of a setting, each option's fastest
    trial being taken over them: ranges (sampled anew by every trial, two trials rarely share a value:
    as AlgoPerf tunes a submission's hyperparameters, not as problems) and paths only some options have
    (an optimizer's momentum). `untimed`: trials that reached the target without a recorded time."""

    path: str
    frame: pd.DataFrame
    options: list[Any]
    setting_paths: list[str]
    tuned: list[str] = field(default_factory=list)
    untimed: int = 0


def times(s: Stored, path: str, target: speed.Target, unit: str = "seconds") -> Times:
    """The time every trial of the study that trained took to reach `target` (see Times)."""
    if unit not in UNITS:
        raise InputError(f"time unit {unit!r}: one of {', '.join(UNITS)}")
    path = canonical(path)
    others = [p for p in dict.fromkeys(canonical(p) for p in s.recipe.search.space) if p != path]
    reader = PathValues(s.recipe, [path, *others])
    rows, untimed = [], 0
    for t in record.results_of(s.study.get_trials(deepcopy=False)):
        if record.state_of(t) not in TRIED:
            continue
        got = speed.reach(t.user_attrs.get(record.HISTORY) or [], target)
        time = math.inf if got is None else float(got[0] if unit == "epochs" else got[1])
        if not math.isfinite(time) and got is not None:  # reached, but its seconds were not recorded
            untimed += 1
            continue
        rows.append({"trial": t.number, **reader.of(params_of(t)), "time": time})
    df = pd.DataFrame(rows, columns=["trial", path, *others, "time"])
    options, order = levels(df[path]) if len(df) else (df[path], [])
    ranges = {canonical(p) for p, spec in s.recipe.search.space.items() if spec.is_range}
    tuned = [q for q in others if q in ranges or _belongs_to_options(df[q], options)]
    setting_paths = [q for q in others if q not in tuned]
    grouped = [levels(df[q])[0] for q in setting_paths]
    settings = list(zip(*grouped, strict=True)) if grouped else [()] * len(df)
    frame = pd.DataFrame(
        {
            "trial": df["trial"],
            "option": options,
            "setting": pd.Series(settings, dtype=object),
            "time": df["time"],
        }
    )
    return Times(path, frame, order, setting_paths, tuned, untimed)


def _belongs_to_options(column: pd.Series, options: pd.Series) -> bool:
    """Whether a path applies under some options and under none of another's trials: a parameter of
    those options (momentum under an optimizer choice). As part of the settings it would keep the
    options apart (no setting would hold two), so each option's fastest trial is taken over it."""
    applies = (column != NA).groupby(options).any()
    return bool(applies.any() and not applies.all())


@dataclass(frozen=True)
class Profile:
    """A performance profile: `ratios` (settings x options, t / t* in each setting; inf where the option
    never reached the target, NaN where no trial of it ran in that setting); `unreached`, the settings
    where no option reached it, left out."""

    ratios: pd.DataFrame
    unreached: int

    @property
    def options(self) -> list[Any]:
        """The options, in the order of the ratio table's columns."""
        return list(self.ratios.columns)

    def settings_of(self, option: Hashable) -> int:
        """The settings an option ran in (its profile is a share of these)."""
        return int(self.ratios[option].notna().sum())

    def rho(self, option: Hashable, tau: float) -> float:
        """The share of the settings the option ran in where its ratio is at most `tau`; NaN if none."""
        return rho(self.ratios[option], tau)

    def tau_max(self) -> float:
        """Where the chart's x axis ends: past the largest finite ratio, and at least TAU_MIN_SPAN."""
        values = self.ratios.to_numpy().ravel()
        finite = [v for v in values if math.isfinite(v)]
        return max(TAU_MIN_SPAN, max(finite, default=1.0) * 1.25)

    def curve(self, option: Hashable, tau_max: float | None = None) -> tuple[list[float], list[float]]:
        """(tau, rho) of the option's step curve from 1 to `tau_max`, to draw with where='post'."""
        return steps(self.ratios[option], self.tau_max() if tau_max is None else tau_max)


def ratios(frame: pd.DataFrame, options: list[Any] | None = None) -> Profile:
    """The profile of a frame of (option, setting, time): per setting and option the fastest time, over
    the fastest option's in that setting. A setting no option reached the target in is left out (it
    tells the options nothing apart) and counted in `unreached`."""
    options = list(dict.fromkeys(frame["option"])) if options is None else options
    settings = list(dict.fromkeys(frame["setting"]))
    fastest = frame.groupby(["setting", "option"], sort=False)["time"].min()
    table = pd.DataFrame(
        math.nan, index=pd.Index(range(len(settings))), columns=pd.Index(options, dtype=object)
    )
    position = {s: i for i, s in enumerate(settings)}
    for (setting, option), time in fastest.items():
        table.loc[position[setting], option] = time
    best = table.min(axis=1)  # NaN (an option not run there) is skipped, inf is a time
    reached = best.map(math.isfinite)
    table, best = table[reached], best[reached]
    table.index = pd.Index([settings[i] for i in table.index], name="setting", tupleize_cols=False)
    # The fastest is 1 exactly; a zero time (a target met before training) only ties another zero.
    out = pd.DataFrame(
        {o: [_ratio(t, b) for t, b in zip(table[o], best, strict=True)] for o in options},
        index=table.index,
        columns=pd.Index(options, dtype=object),
        dtype=float,
    )
    return Profile(out, int((~reached).sum()))


def _ratio(time: float, best: float) -> float:
    if math.isnan(time):
        return math.nan
    if best == 0:
        return 1.0 if time == 0 else math.inf
    return time / best


def rho(ratios: pd.Series, tau: float) -> float:
    """The share of the settings an option ran in (non-NaN ratios) whose ratio is at most `tau`."""
    ran = ratios.dropna()
    return float((ran <= tau).sum() / len(ran)) if len(ran) else math.nan


def steps(ratios: pd.Series, tau_max: float) -> tuple[list[float], list[float]]:
    """(tau, rho) at 1, at every ratio up to `tau_max`, and at `tau_max`: the corners of the step curve."""
    corners = sorted({1.0, *(r for r in ratios.dropna() if 1.0 < r <= tau_max)})
    xs = [*corners, tau_max] if corners[-1] < tau_max else corners
    return xs, [rho(ratios, x) for x in xs]


def profile(s: Stored, path: str, target: speed.Target, unit: str = "seconds") -> tuple[Profile, Times] | str:
    """The study's profile of `path` (and the times it was made from), or why there is none."""
    timed = times(s, path, target, unit)
    made = ratios(timed.frame, timed.options)
    if made.ratios.empty:
        tried = len(timed.frame) or timed.untimed
        why = f"no trial reached {target.describe()}" if tried else "no trial trained"
        if timed.untimed:
            why += f" with its training time recorded ({timed.untimed} reached it without: --time epochs)"
        return why
    return made, timed


# ---- sensitivity curves ----------------------------------------------------------------------------


def numeric_paths(s: Stored) -> list[str]:
    """The searched paths whose values are numbers (a range, or a list of numeric choices): what a
    sensitivity curve can run along."""
    out = []
    for p, spec in s.recipe.search.space.items():
        if spec.is_range or (spec.choices and all(_finite(c) for c in spec.choices)):
            out.append(canonical(p))
    return list(dict.fromkeys(out))


def default_by(s: Stored) -> str | None:
    """The choice path whose values are the sensitivity curves by default: the optimizer when it is
    searched (DeepOBS's comparison), else none (one curve)."""
    return "train.optimizer" if "train.optimizer" in choice_paths(s) else None


@dataclass(frozen=True)
class Sensitivity:
    """The objective of the completed trials along `x`: `trials` (trial, x, curve, value), `points`
    (curve, x, value, trials: one row per distinct x of a curve, in x order), the curves in reading
    order, and `missing`, trials where x does not apply (momentum under adam)."""

    x: str
    by: str | None
    trials: pd.DataFrame
    points: pd.DataFrame
    curves: list[Any]
    missing: int


def sensitivity(s: Stored, x: str, by: str | None = None, how: str = "median") -> Sensitivity | str:
    """The study's sensitivity to `x`, a curve per value of `by` (one curve without it), each point the
    median (`how='median'`) or best (`how='best'`) objective of the trials at one x; or why there is none."""
    x = canonical(x)
    by = canonical(by) if by else None
    df = completed_frame([s], [x] + ([by] if by and by != x else []))
    if df.empty:
        return "no trial completed"
    numeric = df[x].map(_finite)
    missing = int((~numeric).sum())
    df = df[numeric]
    if df.empty:
        return f"{x} applies in no completed trial"
    curve, order = levels(df[by]) if by else (pd.Series("", index=df.index), [""])
    trials = pd.DataFrame(
        {"trial": df["trial"], "x": df[x].astype(float), "curve": curve, "value": df["value"].astype(float)}
    )
    points = sensitivity_points(trials, s.direction, how, order)
    return Sensitivity(x, by, trials, points, [c for c in order if c in set(trials["curve"])], missing)


def sensitivity_points(
    trials: pd.DataFrame, direction: str, how: str = "median", curves=None
) -> pd.DataFrame:
    """One point per curve and distinct x of a frame of (curve, x, value): the median or the best
    (`direction`) value of the trials there, with their count; curves in `curves` order, x ascending."""
    if how not in ("median", "best"):
        raise InputError(f"sensitivity points are the median or the best of a point's trials, not {how!r}")
    agg = "median" if how == "median" else ("max" if direction == "maximize" else "min")
    grouped = trials.groupby(["curve", "x"], sort=False)["value"]
    out = grouped.agg([agg, "size"]).reset_index().rename(columns={agg: "value", "size": "trials"})
    rank = {c: i for i, c in enumerate(curves if curves is not None else dict.fromkeys(trials["curve"]))}
    out = out.assign(_rank=out["curve"].map(rank)).sort_values(["_rank", "x"], kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)[["curve", "x", "value", "trials"]]
