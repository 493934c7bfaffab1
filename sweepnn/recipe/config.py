"""The recipe as one frozen, typed configuration tree.

Every section is a pydantic model with unknown keys forbidden; option families (`model.activation`,
`train.optimizer`, ...) are tagged unions generated from their registries, so each option accepts
exactly its own parameters. Code below the loader receives a `Recipe` and never touches raw dicts.
A search space addresses the same dotted paths (`train.optimizer.lr`), see `sweepnn.recipe.space`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from sweepnn.options.datasets import DATASETS, task_of
from sweepnn.options.losses import LOSSES
from sweepnn.options.metrics import METRICS
from sweepnn.options.models import MODELS
from sweepnn.options.optimizers import OPTIMIZERS
from sweepnn.options.regularizers import PENALTIES
from sweepnn.options.schedules import SCHEDULES
from sweepnn.options.search import PRUNERS, SAMPLERS
from sweepnn.recipe.limits import CHOICES_MAX, NAME_MAX, SPACE_PARAMS_MAX, Seed
from sweepnn.registry import Frozen

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(value: Any) -> Any:
    """'90s', '10m', '1h30m' or a number of seconds -> seconds. Anything else is left to fail."""
    if isinstance(value, bool) or (isinstance(value, (int, float)) and not math.isfinite(value)):
        raise ValueError(f"cannot read {value!r} as a duration; write e.g. 90s, 10m, 1h30m or seconds")
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        m = _DURATION.match(text)
        if m and any(m.groups()):
            h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            return h * 3600 + mi * 60 + s
        raise ValueError(f"cannot read {value!r} as a duration; write e.g. 90s, 10m, 1h30m or seconds")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration, json_schema_input_type=float | str), Field(gt=0)]


class Regularization(Frozen):
    """Penalties and safeguards added to the training step."""

    penalty: PENALTIES.type_for("none") = PENALTIES.default("none")  # type: ignore[valid-type]
    decay_biases: bool = Field(False, description="also penalize/decay biases and normalization parameters")
    clip_norm: float | None = Field(None, gt=0, description="clip the global gradient norm to this value")
    clip_value: float | None = Field(None, gt=0, description="clip each gradient element to [-v, v]")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="cross-entropy label smoothing")


class EarlyStopping(Frozen):
    """Stop when a metric has not improved for `patience` epochs."""

    metric: str = Field("val_loss", description=f"one of: {', '.join(METRICS)}")
    patience: int = Field(5, ge=1, description="epochs without improvement before stopping")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")
    restore_best: bool = Field(True, description="end with the weights and metrics of the best epoch")

    @model_validator(mode="after")
    def _known(self) -> EarlyStopping:
        METRICS[self.metric]  # raises with the valid names and a suggestion
        return self


STEPS_MAX = 100_000_000  # a run's optimizer steps: as many as 100,000 epochs of 1,000 steps


class TrainConfig(Frozen):
    """How every trial trains: epochs (or steps), batches, seed, optimizer, schedule, loss, regularization
    and early stopping, with the speed settings precision and channels_last."""

    epochs: int = Field(10, ge=1, le=100_000, description="passes over the training split")
    # Published setups count optimizer steps, and the steps of an epoch move with the split and the
    # last partial batch: a budget in steps stays the same whatever the data options are.
    steps: int | None = Field(
        None,
        ge=1,
        le=STEPS_MAX,
        description="train exactly this many optimizer steps instead of `epochs`: the whole epochs that"
        " fit, then a last partial one (evaluated and recorded like the others); schedules, warmup and"
        " pruning follow it. Give epochs or steps, not both",
    )
    batch_size: int = Field(128, ge=1, description="examples per step")
    seed: Seed = Field(0, description="seed of initialization, dropout and batch order")
    shuffle: bool = Field(True, description="reshuffle the training split every epoch")
    optimizer: OPTIMIZERS.type_for("adam") = OPTIMIZERS.default("adam")  # type: ignore[valid-type]
    schedule: SCHEDULES.type_for("constant") = SCHEDULES.default("constant")  # type: ignore[valid-type]
    loss: LOSSES.type | None = Field(  # type: ignore[valid-type]
        None, description="default: cross_entropy, or mse for regression"
    )
    regularization: Regularization = Field(default_factory=Regularization)
    early_stopping: EarlyStopping | None = Field(None, description="stop when a metric stops improving")
    diagnostics: bool = Field(True, description="measure gradient flow, dead and saturated units (cheap)")
    # Speed on a GPU: bf16 autocast halves the bytes moved and uses the tensor cores; weights, the
    # optimizer and the loss stay fp32. channels_last lays images out as NHWC, cuDNN's fastest layout.
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="fp32, or bf16: forward passes under bfloat16 autocast (weights stay fp32)"
    )
    channels_last: bool = Field(False, description="NHWC memory layout for image CNNs (faster on GPUs)")

    @model_serializer(mode="wrap")
    def _steps_only_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A recipe without `steps` dumps as it did before the field existed: a study's fingerprint and
        stored recipe (sweepnn.sweep.resuming) are digests of the dump, and must not change under a
        study that was started without it."""
        out = handler(self)
        if isinstance(out, dict) and out.get("steps", 0) is None:
            del out["steps"]
        return out


class Objective(Frozen):
    """A metric to optimize; its direction defaults to the metric's natural one."""

    metric: str = Field("val_accuracy", description=f"one of: {', '.join(METRICS)}")
    direction: Literal["maximize", "minimize"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"metric": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known(self) -> Objective:
        spec = METRICS[self.metric]  # raises with the valid names and a suggestion
        if self.direction is None:
            object.__setattr__(self, "direction", spec.direction)
        return self


# In a recipe an objective may be just the metric's name; the schema says so, for editors.
ObjectiveSpec = Annotated[
    Objective, BeforeValidator(lambda v: v, json_schema_input_type=Literal[tuple(METRICS)] | Objective)
]


class ParamSpec(Frozen):
    """One searched parameter: a range (low/high, optional log or step) or a list of choices.

    A bare list is short for `{choices: [...]}`. Whether a range is sampled as int or float follows
    the type of the field its path names.
    """

    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = Field(None, gt=0)
    choices: list[Any] | None = Field(None, max_length=CHOICES_MAX)

    @model_validator(mode="before")
    @classmethod
    def _list_is_choices(cls, value: Any) -> Any:
        return {"choices": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.choices is not None:
            if not self.choices:
                raise ValueError("choices is empty; list at least one value")
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("give either choices or low/high (with log/step), not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give choices, or both low and high")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log scale needs low > 0 (got low={self.low})")
        if self.log and self.step is not None:
            raise ValueError(
                "log and step cannot be combined (Optuna samples either on a log scale or on a grid)"
            )
        if self.step is not None:
            n = (self.high - self.low) / self.step
            if not math.isfinite(n):  # 1e300 over 1e-300: no grid and no float holds that many steps
                raise ValueError(f"step {self.step} is too small for the range {self.low}..{self.high}")
            if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
                raise ValueError(
                    f"step {self.step} does not divide the range {self.low}..{self.high};"
                    f" e.g. high: {self.low + math.floor(n) * self.step:g} fits"
                )
        return self

    @property
    def is_range(self) -> bool:
        return self.choices is None


# A bare list in a recipe's space is short for {choices: [...]}.
ParamInput = Annotated[ParamSpec, BeforeValidator(lambda v: v, json_schema_input_type=list[Any] | ParamSpec)]


FIRST_OBJECTIVE = "(first objective)"  # a bare `target: 0.9` until the recipe's objective is settled
DEFAULT_TRIALS = 20  # the budget of a sampler that has no natural end, when n_trials is not given


class SearchConfig(Frozen):
    """What the sweep searches (`space`) and how: sampler, pruner, objectives, trial budget and timeout, fair
    comparison, stacked groups, repeats over seeds and test scoring."""

    sampler: SAMPLERS.type_for("tpe") = SAMPLERS.default("tpe")  # type: ignore[valid-type]
    # None: median pruning for a single objective, no pruning for several (Optuna cannot prune those).
    pruner: PRUNERS.type | None = None  # type: ignore[valid-type]
    n_trials: int | None = Field(
        None,
        ge=1,
        description="trial budget; default 20 (unlimited with a timeout), or 1 with an empty space",
    )
    timeout: Duration | None = Field(None, description="stop starting trials after this long (e.g. 10m)")
    fair: str | None = Field(
        None,
        description="a searched choice (e.g. train.optimizer.name) whose every value gets its own study"
        " and an equal share of the trials: each compared at its best",
    )
    group_size: int = Field(
        1,
        ge=1,
        le=256,
        description="ask this many trials at once and train those of one shape as one stacked model (MLP)",
    )
    repeats: int = Field(
        1, ge=1, le=100, description="train each sampled configuration with this many seeds; score their mean"
    )
    test_top: int = Field(
        3, ge=0, description="after the sweep, score this many best trials on the test split (0: none)"
    )
    save_top: int = Field(
        1,
        ge=0,
        description="keep the trained weights of this many best trials under results/<study>/models/"
        " (safetensors, beside each trial's recipe; 0: none)",
    )
    objective: ObjectiveSpec | list[ObjectiveSpec] = Field(default_factory=Objective)
    # How fast, beside how far: every trial records the epochs and seconds it took to reach this
    # (sweepnn.speed); without one, fractions of the study's best are the targets.
    target: Annotated[  # a bare number is the first objective's (_bare_target): the schema says so
        dict[str, float] | None,
        BeforeValidator(lambda v: v, json_schema_input_type=dict[str, float] | float | None),
    ] = Field(
        None,
        description="metric -> value every trial is timed to (epochs and seconds to reach it), e.g."
        " {val_accuracy: 0.9}; a bare number is the first objective's. Default: 50% and 90% of the way"
        " from a trivial predictor to the study's best",
    )
    space: dict[str, ParamInput] = Field(
        default_factory=dict,
        max_length=SPACE_PARAMS_MAX,
        description="dotted config path -> range or choices",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_target(cls, value: Any) -> Any:
        """`target: 0.9` is the first objective's target."""
        bare = isinstance(value, dict) and isinstance(value.get("target"), int | float)
        if bare and not isinstance(value["target"], bool):
            # which objective is first is settled after validation (a regression recipe's default is
            # val_r2): held under FIRST_OBJECTIVE until then
            value = {**value, "target": {FIRST_OBJECTIVE: value["target"]}}
        return value

    @field_validator("target")
    @classmethod
    def _known_target(cls, target: dict[str, float] | None) -> dict[str, float] | None:
        for metric, value in (target or {}).items():
            if metric != FIRST_OBJECTIVE:
                METRICS[metric]  # raises with the valid names and a suggestion
            if not math.isfinite(value):
                raise ValueError(f"target {metric}: {value} is not a value a run can reach")
        return target

    @model_validator(mode="after")
    def _some_objective(self) -> SearchConfig:
        if isinstance(self.objective, list) and not self.objective:
            raise ValueError("objective lists no metric; name at least one, e.g. val_accuracy")
        return self

    @property
    def objectives(self) -> list[Objective]:
        return self.objective if isinstance(self.objective, list) else [self.objective]

    def maximized(self) -> dict[str, bool]:
        """Metric -> whether larger is better: an objective's own direction, else the metric's natural
        one (what a target on it is reached from)."""
        out = {m: spec.direction == "maximize" for m, spec in METRICS.items()}
        out.update({o.metric: o.direction == "maximize" for o in self.objectives})
        return out

    @property
    def budget(self) -> int | None:  # the grid's whole size is sweepnn.recipe.budget's to add
        """Trials to run in all; None: as many as the timeout allows."""
        if self.n_trials is not None:
            return self.n_trials
        if self.timeout is not None and self.space:
            return None
        return DEFAULT_TRIALS if self.space else 1


class Recipe(Frozen):
    """A whole sweep: what data, which network, how to train it, and what to search."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        # the bound is checked with the recipe's other problems (checks.cross_problems), in its words;
        # the schema states it for editors
        json_schema_extra={"maxLength": NAME_MAX},
        description="study name (default: the recipe's file name)",
    )
    description: str = Field("", description="the question this recipe asks")
    code: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="folders your own code (a model or dataset named module:function) is imported from,"
        " besides the recipe's own folder; relative to the recipe",
    )
    data: DATASETS.type_for("spirals") = DATASETS.default("spirals")  # type: ignore[valid-type]
    model: MODELS.type_for("mlp") = MODELS.default("mlp")  # type: ignore[valid-type]
    train: TrainConfig = Field(default_factory=TrainConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)

    @model_validator(mode="after")
    def _objective_follows_the_task(self) -> Recipe:
        """Without an explicit objective, a regression recipe maximizes val_r2 (val_accuracy has no
        meaning there)."""
        if "objective" not in self.search.model_fields_set and task_of(self.data) == "regression":
            search = self.search.model_copy(update={"objective": Objective(metric="val_r2")})
            object.__setattr__(self, "search", search)
        target = self.search.target
        if target and FIRST_OBJECTIVE in target:  # `target: 0.8`: the first objective's, now it is known
            first = self.search.objectives[0].metric
            target = {(first if m == FIRST_OBJECTIVE else m): v for m, v in target.items()}
            object.__setattr__(self, "search", self.search.model_copy(update={"target": target}))
        return self


def recipe_schema() -> dict[str, Any]:
    """JSON Schema of a recipe file: `name` may be left out there (it defaults to the file name)."""
    schema = Recipe.model_json_schema()
    schema["required"] = [k for k in schema.get("required", []) if k != "name"]
    if not schema["required"]:
        del schema["required"]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sweepnn recipe"
    return schema
