"""A trial's outcome: which textbook failure, if any, its diagnostics show. Every rule and every
threshold is here, in the order the rules are tried; the README's outcome table quotes them.

A trial that trained to its end is read from its record (sweepnn.training.diagnostics measures it):
the worst layer decides each figure (one dead or saturated layer is enough to cut the gradient), and
each figure is the median of the last epochs measured, so that one noisy step or seed does not flip
the name. Causes come before symptoms: a zero-initialized net that learns nothing is `symmetric`
(what to change: the init), not merely `stalled`.

Then the study: a trial scoring far below what the same network reached in the study, with a
measured cause, is named by that cause, not `ok` (`below_reach`).

No torch here: the tables and result files (sweepnn.record.judged) read these rules without it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

# ---- the thresholds ---------------------------------------------------------------------------------
RECENT = 3  # epochs whose median stands for a figure: the last three that measured it
NEAR_ZERO = 1e-3  # a weight this close to 0 counts as pruned away (what L1's sparsity shows)
# per-layer figure -> how its worst layer, the one that stands for the network, is found
WORST = {"dead_fraction": max, "saturated_fraction": max, "gradient_pass": min}
ALL_NEAR_ZERO = 0.99  # a layer with this share of its weights near 0 has none left
SYMMETRY_TOL = 1e-3  # a hidden layer whose units' weights differ by less than this (relative) are one unit
# A loss this many times that of a uniform guess (log of the class count) has exploded: no sane
# classifier gets there, but activations that grow layer by layer do.
EXPLODE_FACTOR = 1e4
STALL_MARGIN = 0.05  # validation score within this of the trivial predictor's: no learning
DEAD_ALL = 0.95  # a layer with this share of its units dead passes almost nothing ...
DEAD = 0.5  # ... and half of them dead is enough in a run that stalled
SATURATED = 0.5  # over half of a layer's sigmoid/tanh outputs on their flat ends ...
GRADIENT_PASS = 0.2  # ... or a saturating layer passing under a fifth of its best gradient ...
GRADIENT_PASS_STALLED = 0.5  # ... or under half of it in a run that stalled
VANISHING_RATIO = 1e-3  # first-layer gradient norm below this fraction of the last layer's ...
VANISHING_SIGNAL = 1e-3  # ... or the top activation layer's spread below this fraction of the first's
EXPLODING_RATIO = 1e3  # first-layer gradient norm above this multiple of the last layer's
OVERFIT_GAP = 0.15  # training score (of the final network, dropout off) this far above validation
# Slow convergence (seed 004's 느린 수렴): still climbing at the end, so the budget cut it short. The
# trend of the validation score over the last fifth of the epochs (at least three: a line through
# them, so that one noisy epoch does not decide) gained this share of the run's margin over a
# trivial predictor; runs shorter than SLOW_MIN_EPOCHS are not judged (too few epochs for a trend).
SLOW_GAIN = 0.05
SLOW_WINDOW = 0.2
SLOW_MIN_EPOCHS = 5
# ... and with room left to gain as much again: a run at (or a hair under) a perfect score of 1 is
# not held back by its budget, however steeply it got there
SLOW_HEADROOM = 0.05
# The outcomes the study may rename by a measured cause (below_reach): the healthy ones
JUDGED = ("ok", "slow")
# Below the study's reach: a score this far below the best of the same network (as a fraction of the
# way from the trivial predictor to that best), with one of the causes at these milder levels.
FAR_BELOW = 0.25
DEAD_BELOW = 0.25  # a quarter of a layer's units dead
SATURATED_BELOW = 0.25  # a quarter of a layer's outputs saturated
GRADIENT_PASS_BELOW = 0.4
LR_COLLAPSED = 0.01  # the learning rate under 1% of its peak ...
LR_COLLAPSED_EPOCHS = 0.5  # ... for at least half of the epochs

# A network's settings that are techniques, not its shape: trials that differ only in these are "the
# same network" when a trial is judged against what the study reached (below_reach).
TECHNIQUES = ("init", "activation", "norm", "norm_position", "dropout", "zero_init_residual")


@dataclass(frozen=True)
class Rule:
    """One outcome as the README's table states it: what it means, the figure it reads and its
    threshold (written from the constants above), and what to try."""

    name: str
    meaning: str
    reads: str
    what_to_try: str


# In the order the rules are tried (diverged is decided while training; pruned by the pruner).
RULES = [
    Rule("ok", "trained: no rule below holds", "", ""),
    Rule(
        "diverged",
        "the loss or a gradient became NaN/infinite or exploded; the step is in the reason",
        "the loss, every step on a CPU (at the measured steps on a GPU), and the gradient norm:"
        f" non-finite, or a loss {EXPLODE_FACTOR:,.0f} times a uniform guess's",
        "smaller learning rate, gradient clipping, a scaled init",
    ),
    Rule(
        "symmetric",
        "the units of a hidden layer stay identical: no gradient can tell them apart (the layer is named)",
        f"`row_spread` of a hidden weight layer of the kept network (how far its units' weights are"
        f" from their mean, relative) under {SYMMETRY_TOL:g}",
        "a random init (zeros and constants keep every unit alike), dropout",
    ),
    Rule(
        "dead",
        "a layer's ReLU units output 0 for every example",
        f"`dead_fraction` of the worst layer: at least {DEAD_ALL:.0%}, or {DEAD:.0%} in a run that stalled;"
        " not when the signal into that layer had faded first (that is `vanishing`)",
        "smaller learning rate, warmup, leaky ReLU, He init",
    ),
    Rule(
        "saturated",
        "a sigmoid/tanh layer sits on its flat parts and passes little gradient, at its ends or near"
        " a sigmoid's 0 (Glorot & Bengio 2010)",
        f"`saturated_fraction` (outputs at the flat ends) of the worst layer over {SATURATED:.0%}, or"
        f" `gradient_pass` (the derivative at its inputs relative to its best, on average) under"
        f" {GRADIENT_PASS:.0%}, or under {GRADIENT_PASS_STALLED:.0%} in a run that stalled",
        "Xavier init, a normalization layer, tanh or ReLU",
    ),
    Rule(
        "vanishing",
        "the gradient or the signal fades on its way through the layers (He et al. 2015)",
        f"`grad_ratio` (first weight layer's gradient norm over the last's) under {VANISHING_RATIO:g},"
        f" or `signal_ratio` (the top activation layer's spread over the examples, over the first's)"
        f" under {VANISHING_SIGNAL:g}",
        "ReLU with He init, batchnorm, a shallower net, Adam",
    ),
    Rule(
        "exploding",
        "gradients grow on the way to the first layer",
        f"`grad_ratio` over {EXPLODING_RATIO:g}",
        "smaller init scale, normalization",
    ),
    Rule(
        "stalled",
        "validation score no better than a trivial predictor, with no cause above",
        f"the validation score at most {STALL_MARGIN:g} above always guessing the most common class"
        " (for regression, the mean)",
        "learning rate, init, a longer budget",
    ),
    Rule(
        "overfitting",
        "training score far above validation",
        f"`gap_eval` (the final network's training score, dropout off, minus validation; `gap`, the"
        f" epoch's running one, where it is missing) over {OVERFIT_GAP:g}",
        "dropout, weight decay, more data, early stopping",
    ),
    Rule(
        "slow",
        "still improving markedly at its last epoch: the budget, not the technique, stopped it",
        f"`late_gain`: what the validation score's trend (a least-squares line) over the last"
        f" {SLOW_WINDOW:.0%} of the epochs (at least 3) gained, as a share of the final score's margin"
        f" over a trivial predictor, at least {SLOW_GAIN:.0%}, with at least {SLOW_HEADROOM:.0%} of that"
        f" margin left below a perfect score; runs of {SLOW_MIN_EPOCHS} epochs or more that their budget"
        " ended (not early stopping)",
        "more epochs or steps, a larger learning rate, a schedule that decays later",
    ),
    Rule(
        "lr_collapsed",
        "against the study: the learning rate fell to almost nothing early",
        f"an `ok` run far below its network's best (below) whose learning rate stayed under"
        f" {LR_COLLAPSED:.0%} of its peak for at least {LR_COLLAPSED_EPOCHS:.0%} of the epochs",
        "a gentler schedule, more plateau patience",
    ),
    Rule("pruned", "stopped by the pruner", "", ""),
]
BELOW_REACH = (
    "**Against the study.** An `ok` or `slow` run that falls short of the best validation score the same"
    f" network reached on the same data in the study (the same `model` and `data` settings but"
    f" {', '.join(TECHNIQUES)} and `data.augment`) by more than"
    f" {FAR_BELOW:.0%} of that best's margin over a trivial predictor (best 0.99, trivial 0.33: under"
    f" {0.99 - FAR_BELOW * (0.99 - 0.33):.3f}), with a cause measured at a milder level, takes that"
    f" cause: `dead` (a layer {DEAD_BELOW:.0%} dead), `saturated` ({SATURATED_BELOW:.0%} of a layer"
    f" at its ends, or a layer passing under {GRADIENT_PASS_BELOW:.0%} of its gradient) or `lr_collapsed`."
    " The tables and files judge every trial against the whole study as it stands, so the order the"
    " trials ran in does not change a name (the line printed as a trial ends gives its own outcome)."
)


def rules_markdown() -> str:
    """The README's outcome table and the note under it, written from RULES and the thresholds."""
    lines = ["| outcome | meaning | figure read, and threshold | what to try |", "| --- | --- | --- | --- |"]
    lines += [f"| `{r.name}` | {r.meaning} | {r.reads} | {r.what_to_try} |" for r in RULES]
    return "\n".join(lines) + "\n\n" + BELOW_REACH + "\n"


# Outcomes of a trial that trained to its end (its objective counts); the others stopped it early.
TRAINED = tuple(r.name for r in RULES if r.name not in ("diverged", "pruned"))


@dataclass
class Figures:
    """A trained run's diagnostics as the rules read them (None: not measured)."""

    val: float | None
    train: float | None  # the final network's training score in evaluation mode, else the running one
    chance: float
    symmetric_layer: int | None  # 1-based weight layer whose units are all alike
    units: int  # ... and how many units it has
    spread: float | None
    all_zero: bool  # ... its weights are all near 0 (a zeros init, or a penalty that left nothing)
    dead: float | None  # worst layer's dead fraction
    dead_layer: int | None
    dead_after_fading: bool  # the signal into the first half-dead layer had faded below VANISHING_SIGNAL
    saturated: float | None
    saturated_layer: int | None
    gradient_pass: float | None
    pass_layer: int | None
    pass_mean: float | None  # ... and that layer's mean output
    grad_ratio: float | None
    signal_ratio: float | None
    lr_collapsed_at: int | None  # the epoch the learning rate collapsed in
    late_gain: float | None  # the share of its margin the run gained over its last epochs (slow)


def figures(history: list[dict], final: dict, chance: float, score: str) -> Figures:
    """What the rules read from a trained run's epochs `history` and kept metrics `final`."""
    layer, units, spread, all_zero = _symmetric(final)
    dead, dead_layer = _worst(history, "dead_fraction")
    saturated, sat_layer = _worst(history, "saturated_fraction")
    passes, pass_layer = _worst(history, "gradient_pass")
    return Figures(
        val=final.get(f"val_{score}"),
        train=final.get(f"train_eval_{score}", final.get(f"train_{score}")),
        chance=chance,
        symmetric_layer=layer,
        units=units,
        spread=spread,
        all_zero=all_zero,
        dead=dead,
        dead_layer=dead_layer,
        dead_after_fading=_dead_after_fading(history),
        saturated=saturated,
        saturated_layer=sat_layer,
        gradient_pass=passes,
        pass_layer=pass_layer,
        pass_mean=_layer_value(history, "mean_by_layer", pass_layer),
        grad_ratio=_recent(history, "grad_ratio"),
        signal_ratio=_recent(history, "signal_ratio"),
        lr_collapsed_at=_lr_collapse(history),
        late_gain=late_gain(history, score, chance),
    )


def classify(
    history: list[dict], final: dict, chance: float, score: str = "accuracy", budget_ended: bool = True
) -> tuple[str, str]:
    """(outcome, reason) of a run that trained to its end (or stopped early on its own), by the first
    rule that holds. `score` is the task's score (accuracy, or r2) and `chance` a trivial predictor's;
    `budget_ended` is False for a run early stopping ended (its budget did not stop it: never slow)."""
    f = figures(history, final, chance, score)
    stalled = f.val is not None and f.val <= chance + STALL_MARGIN
    flow = f"; first/last layer gradient ratio {f.grad_ratio:.1e}" if f.grad_ratio is not None else ""
    if f.symmetric_layer is not None:
        return "symmetric", _symmetric_reason(f)
    # Units that die because the signal reaching them faded first (a deep ReLU net with too small an
    # init: its outputs shrink layer by layer until the biases decide) are the fading, not the death.
    if (
        f.dead is not None
        and (f.dead >= DEAD_ALL or (stalled and f.dead >= DEAD))
        and not f.dead_after_fading
    ):
        scored = f"; validation {score} {f.val:.3f} (chance {chance:.3f})" if f.val is not None else ""
        return "dead", _dead_reason(f) + scored
    if f.saturated is not None and f.saturated > SATURATED:
        return "saturated", _at_the_ends(f) + flow
    passes = GRADIENT_PASS_STALLED if stalled else GRADIENT_PASS
    if f.gradient_pass is not None and f.gradient_pass < passes:
        return "saturated", _passing(f) + flow
    if f.grad_ratio is not None and f.grad_ratio < VANISHING_RATIO:
        return "vanishing", f"gradients vanish on the way to the first layer{flow}"
    if f.signal_ratio is not None and f.signal_ratio < VANISHING_SIGNAL:
        return (
            "vanishing",
            f"the signal fades layer by layer: the top activation's spread is {f.signal_ratio:.1e}"
            f" of the first's{flow}",
        )
    if f.grad_ratio is not None and f.grad_ratio > EXPLODING_RATIO:
        return "exploding", f"gradients grow on the way to the first layer{flow}"
    if stalled:
        # the rule's margin in its words: 0.558 "no better than" a chance of 0.508 reads as a contradiction
        how = "is no better than" if f.val <= chance else f"is within {STALL_MARGIN:g} of"
        return "stalled", f"validation {score} {f.val:.3f} {how} chance ({chance:.3f}){flow}"
    if f.val is not None and f.train is not None and f.train - f.val > OVERFIT_GAP:
        return "overfitting", f"training {score} {f.train:.3f} vs validation {f.val:.3f}"
    room = f.val is not None and 1 - f.val >= SLOW_HEADROOM * (1 - chance)  # scores top out at 1
    if budget_ended and room and f.late_gain is not None and f.late_gain >= SLOW_GAIN:
        return (
            "slow",
            f"still improving at its last epoch: validation {score} gained {f.late_gain:.0%} of its"
            f" margin over chance in the last {_slow_window(len(history))} epochs",
        )
    return "ok", ""


def _slow_window(epochs: int) -> int:
    """The epochs at the end of a run that `late_gain` draws its trend through."""
    return max(3, round(SLOW_WINDOW * epochs))


def late_gain(history: list[dict], score: str, chance: float | None) -> float | None:
    """What the validation score's least-squares trend over a run's last epochs (_slow_window) gained
    across them, as a share of the last epoch's margin over `chance`; None for a run of fewer than
    SLOW_MIN_EPOCHS epochs or with no margin (a stalled run)."""
    values = [h.get(f"val_{score}") for h in history]
    if chance is None or len(values) < SLOW_MIN_EPOCHS or any(v is None for v in values):
        return None
    window = values[-_slow_window(len(values)) :]
    margin = values[-1] - chance
    if margin <= 0:
        return None
    n = len(window)
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(window)
    slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(window)) / sum(
        (i - mean_x) ** 2 for i in range(n)
    )
    return slope * (n - 1) / margin


def below_reach(
    outcome: str, history: list[dict], final: dict, chance: float, score: str, best: float | None
) -> tuple[str, str] | None:
    """A new (outcome, reason) for an `ok` (or `slow`) run whose validation score is far below `best`,
    the best the study's same network reached, when a cause is measured; None when the outcome stands."""
    val = final.get(f"val_{score}")
    if outcome not in JUDGED or best is None or val is None or best <= chance:
        return None
    if val >= best - FAR_BELOW * (best - chance):  # the cheap test first: most runs are not far below
        return None
    f = figures(history, final, chance, score)
    below = f"validation {score} {val:.3f}, far below the {best:.3f} this network reached in the study"
    if f.dead is not None and f.dead >= DEAD_BELOW and not f.dead_after_fading:
        return "dead", f"{below}: {_dead_reason(f)}"
    if f.saturated is not None and f.saturated >= SATURATED_BELOW:
        return "saturated", f"{below}: {_at_the_ends(f)}"
    if f.gradient_pass is not None and f.gradient_pass < GRADIENT_PASS_BELOW:
        return "saturated", f"{below}: {_passing(f)}"
    if f.lr_collapsed_at is not None:
        return (
            "lr_collapsed",
            f"{below}: the learning rate fell under {LR_COLLAPSED:.0%} of its peak"
            f" in epoch {f.lr_collapsed_at}",
        )
    return None


def network_of(params: dict) -> str:
    """The network a trial's searched parameters (dotted paths) describe, on its data: the `model`
    and `data` settings but the techniques (TECHNIQUES, data.augment). Equal for trials of the same
    network on the same data, whatever they trained it with."""
    import json

    def shapes(path: str) -> bool:
        section, field = [*path.split("."), ""][:2]
        return (section == "model" and field not in TECHNIQUES) or (section == "data" and field != "augment")

    return json.dumps({p: v for p, v in params.items() if shapes(p)}, sort_keys=True, default=str)


def _symmetric_reason(f: Figures) -> str:
    how = "all its weights are near 0" if f.all_zero else f"weights {f.spread:.1e} apart, relative"
    layer = f"the {f.units} units of weight layer {f.symmetric_layer}"
    return f"{layer} are identical ({how}): nothing tells them apart"


def _dead_reason(f: Figures) -> str:
    return f"{f.dead:.0%} of the units of activation layer {f.dead_layer} are dead (0 for every example)"


def _at_the_ends(f: Figures) -> str:
    return f"{f.saturated:.0%} of activation layer {f.saturated_layer}'s outputs sit on the flat ends"


def _passing(f: Figures) -> str:
    where = f" (mean output {f.pass_mean:.2f})" if f.pass_mean is not None else ""
    return f"activation layer {f.pass_layer} passes {f.gradient_pass:.0%} of its best gradient{where}"


def _recent(history: list[dict], key: str) -> float | None:
    """The median of a diagnostic over the last RECENT epochs that measured it."""
    values = [h[key] for h in history if h.get(key) is not None]
    return statistics.median(values[-RECENT:]) if values else None


def _per_layer(history: list[dict], key: str) -> list[float | None] | None:
    """A per-layer figure, each layer's value the median over the last RECENT epochs that measured it
    (None for a layer the figure does not apply to); None when it was never measured."""
    rows = [h[key] for h in history if h.get(key)]
    rows = [r for r in rows[-RECENT:] if len(r) == len(rows[-1])] if rows else []
    if not rows:
        return None
    columns = [[v for v in col if v is not None] for col in zip(*rows, strict=True)]
    return [statistics.median(col) if col else None for col in columns]


def _worst(history: list[dict], figure: str) -> tuple[float | None, int | None]:
    """(value, 1-based layer) of the worst layer (WORST) of a per-layer figure (see _per_layer)."""
    pick = WORST[figure]
    per_layer = _per_layer(history, f"{figure}_by_layer")
    measured = [(v, i) for i, v in enumerate(per_layer or []) if v is not None]
    if not measured:
        return None, None
    value, i = pick(measured, key=lambda p: p[0])
    return value, i + 1


def _layer_value(history: list[dict], key: str, layer: int | None) -> float | None:
    """A per-layer figure's value (see _per_layer) at 1-based `layer`."""
    per_layer = _per_layer(history, key)
    return per_layer[layer - 1] if per_layer and layer and layer <= len(per_layer) else None


def _dead_after_fading(history: list[dict]) -> bool:
    """Whether the signal into the first layer with DEAD of its units dead had already faded to under
    VANISHING_SIGNAL of the first layer's (the lists run over the same activation layers)."""
    dead, signal = _per_layer(history, "dead_fraction_by_layer"), _per_layer(history, "signal_by_layer")
    if not dead or not signal or len(dead) != len(signal):
        return False
    first = next((i for i, d in enumerate(dead) if d is not None and d >= DEAD), None)
    return bool(first) and signal[0] > 0 and signal[first - 1] / signal[0] < VANISHING_SIGNAL


def _symmetric(final: dict) -> tuple[int | None, int, float | None, bool]:
    """(1-based layer, its units, its spread, whether its weights are all near 0) of the first hidden
    weight layer of the kept network whose units' weights are all alike; the output layer is left out
    (its units answer different targets)."""
    spreads = final.get("row_spread_by_layer")
    if not spreads:
        return None, 0, None, False
    units = final.get("units_by_layer") or [0] * len(spreads)
    zeros = final.get("near_zero_by_layer") or [0.0] * len(spreads)
    for i, spread in enumerate(spreads[:-1]):
        if spread is not None and spread < SYMMETRY_TOL:
            return i + 1, int(units[i] or 0), spread, (zeros[i] or 0.0) > ALL_NEAR_ZERO
    return None, 0, None, False


def _lr_collapse(history: list[dict]) -> int | None:
    """The epoch from which the learning rate stayed under LR_COLLAPSED of its peak, when that lasted
    at least LR_COLLAPSED_EPOCHS of the run."""
    lrs = [h.get("lr") for h in history if h.get("lr") is not None]
    if not lrs or max(lrs) <= 0:
        return None
    low = [lr < LR_COLLAPSED * max(lrs) for lr in lrs]
    first = next((i for i in range(len(low)) if all(low[i:])), None)
    if first is None or (len(low) - first) / len(low) < LR_COLLAPSED_EPOCHS:
        return None
    return first + 1
