"""Training-health diagnostics: why a configuration trained, or how it failed.

A `Monitor` measures a few steps per epoch, cheaply: the gradient norm of each weight layer (and the
first/last ratio that shows vanishing or exploding gradient flow), the fraction of dead ReLU units,
the fraction of saturated sigmoid/tanh outputs, and the update-to-weight ratio. At the end `classify`
turns a trial's history into an outcome: ok, saturated, stalled, vanishing, exploding or overfitting
(diverged is decided while training, because it stops the trial at once).
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass

import torch
from torch import nn

from sweepnn.options import layers
from sweepnn.options.activations import ACTIVATIONS

# Measuring points: the first step of every epoch (so every epoch has diagnostics), then about
# SAMPLES_PER_EPOCH in all but never closer than MIN_INTERVAL steps: a measured step costs about half
# a step more, so measuring stays within a few percent of training time.
SAMPLES_PER_EPOCH = 4
MIN_INTERVAL = 32

# Outcome thresholds, chosen to flag only clear cases; a trial near a line is "ok".
STALL_MARGIN = 0.05  # validation accuracy within this of the majority-class rate: no learning
VANISHING_RATIO = 1e-3  # first-layer gradient norm below this fraction of the last layer's
OVERFIT_GAP = 0.15  # training accuracy this far above validation accuracy
EXPLODING_RATIO = 1e3  # first-layer gradient norm above this multiple of the last layer's
SATURATED = 0.5  # over half of the sigmoid/tanh outputs pinned at their flat ends
# A loss this many times that of a uniform guess (log of the class count) has exploded: no sane
# classifier gets there, but activations that grow layer by layer do.
EXPLODE_FACTOR = 1e4


@dataclass
class Divergence:
    """How a trial diverged, which stops it: at which step and epoch, in the loss or the gradient norm, and
    whether it became non-finite or exploded (`value`: the number seen)."""

    step: int
    epoch: int
    what: str  # "loss" or "gradient"
    how: str  # "non-finite" or "exploded"
    value: float

    def __str__(self) -> str:
        verb = "became" if self.how == "non-finite" else "exploded to"
        return f"{self.what} {verb} {self.value:.3g} at step {self.step} (epoch {self.epoch})"


class Monitor:
    """Measures a model at chosen steps; costs nothing at the others.

    Call `measure_grads` after backward and `measure_update` after the optimizer step on the steps
    `due(step)` selects; activation statistics are taken by forward hooks during those steps' forward.
    """

    def __init__(self, model: nn.Module, steps_per_epoch: int, reference_loss: float, enabled: bool = True):
        self.enabled = enabled
        self.loss_limit = EXPLODE_FACTOR * reference_loss
        self.every = max(MIN_INTERVAL, steps_per_epoch // SAMPLES_PER_EPOCH)
        # Found by type, so any network is read as far as it can be: its weight layers, and its
        # modules of an activation whose units die or saturate (a model with none has no such figures).
        self.layers = [m.weight for m in layers.weight_modules(model) if m.weight.requires_grad]
        self.active = False
        self._before: list[torch.Tensor] = []
        self._samples: dict[str, list[torch.Tensor]] = {}
        specs = {name: ACTIVATIONS[name] for _, name in layers.activation_modules(model)}
        self._acts = [(m, specs[name]) for m, name in layers.activation_modules(model)]
        self._acts = [(m, spec) for m, spec in self._acts if spec.dies or spec.saturates]
        # the watched activations' outputs of a measured forward, by activation
        self._outs: dict[str, list[torch.Tensor]] = {}
        self._hooks: list = []

    def due(self, step: int) -> bool:
        """Is step `step` of the epoch a measuring step? If so, watch its forward pass's activations.

        Hooks exist only during a measured forward: a registered hook, even an idle one, takes every
        module call off PyTorch's fast path.
        """
        self.close()  # hooks of a measured step whose gradients were never taken
        self._outs = {}
        self.active = self.enabled and step % self.every == 0
        if self.active:
            self._hooks = [
                m.register_forward_hook(functools.partial(self._keep, spec)) for m, spec in self._acts
            ]
        return self.active

    def _add(self, key: str, value: torch.Tensor) -> None:
        self._samples.setdefault(key, []).append(value.detach().float())

    def _keep(self, spec, module, inputs, out) -> None:
        # Only kept here; measured after the forward pass, all layers of a shape in one batched pass
        # (statistics taken in each hook cost a few small kernels per layer, more than the step).
        if isinstance(out, torch.Tensor) and out.dim() >= 2:  # a module used on a lone vector says nothing
            self._outs.setdefault(spec.name, []).append(out.detach())

    def _measure_activations(self) -> None:
        """Per layer: the fraction of dead units (0 or less for every example and position) and the
        fraction of outputs pinned at a saturating activation's flat ends."""
        outs_by_act, self._outs = self._outs, {}
        for name, outs in outs_by_act.items():
            spec = ACTIVATIONS[name]
            by_shape: dict[tuple[int, ...], list[torch.Tensor]] = {}
            for out in outs:
                by_shape.setdefault(tuple(out.shape), []).append(out)
            for same in by_shape.values():
                acts = torch.stack(same)  # (layers, examples, units, positions...)
                if spec.dies:  # a unit is dead when even its largest output over the batch is <= 0
                    reduce = (1, *range(3, acts.dim()))
                    self._add("dead_fraction", (acts.amax(dim=reduce) <= 0).float().mean(dim=1))
                if spec.saturates:
                    low, high = spec.saturates
                    pinned = (acts <= low) | (acts >= high)
                    self._add("saturated_fraction", pinned.flatten(1).float().mean(dim=1))

    def measure_grads(self, loss: torch.Tensor) -> None:
        """Per-layer gradient norms; keeps a copy of the weights to measure this step's update."""
        self._add("loss", loss.detach())
        if self.layers:
            grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in self.layers]
            self._add("grad_norm", torch.stack(torch._foreach_norm(grads)))  # one fused kernel for all
        self.close()  # the forward pass is over: no more activations to watch
        if self._outs:
            self._measure_activations()
        if self.layers:  # a network without a weight layer found by type has no update to measure
            self._before = torch._foreach_mul([w.detach() for w in self.layers], 1.0)  # one fused copy

    def measure_update(self) -> None:
        if not self.layers:
            self.active = False
            return
        after = [w.detach() for w in self.layers]
        change = torch.stack(torch._foreach_norm(torch._foreach_sub(after, self._before)))
        size = torch.stack(torch._foreach_norm(self._before))
        self._add("update_ratio", (change / (size + 1e-12)).mean())
        self._before = []
        self.active = False

    def check_loss(self, loss: float, step: int, epoch: int) -> Divergence | None:
        if not math.isfinite(loss):
            return Divergence(step, epoch, "loss", "non-finite", loss)
        if loss > self.loss_limit:
            return Divergence(step, epoch, "loss", "exploded", loss)
        return None

    def check(self, step: int, epoch: int) -> Divergence | None:
        """Non-finite or exploded loss or gradient at the latest measured step (one device sync)."""
        grads = self._samples.get("grad_norm")
        total = grads[-1].norm().item() if grads else 0.0
        if not math.isfinite(total):
            return Divergence(step, epoch, "gradient", "non-finite", total)
        return self.check_loss(self._samples["loss"][-1].item(), step, epoch)

    def epoch_summary(self) -> dict[str, float]:
        """Medians of this epoch's measurements, then a fresh start for the next epoch."""
        out: dict[str, float] = {}
        grads = self._samples.pop("grad_norm", [])
        if grads:
            g = torch.stack(grads).median(dim=0).values.tolist()  # one sync for all layers
            out["grad_norm_first"], out["grad_norm_last"] = g[0], g[-1]
            out["grad_norms"] = g  # every weight layer's, input to output: where the flow breaks
            out["grad_ratio"] = g[0] / g[-1] if g[-1] > 0 else (0.0 if g[0] == 0 else math.inf)
        for key in ("dead_fraction", "saturated_fraction", "update_ratio"):
            values = self._samples.pop(key, [])
            if values:  # scalars, or one value per layer: the median over layers and steps
                out[key] = torch.cat([v.reshape(-1) for v in values]).median().item()
        self._samples.clear()
        return out

    def close(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []


def classify(history: list[dict[str, float]], chance: float, score: str = "accuracy") -> tuple[str, str]:
    """(outcome, reason) of a trial that trained to the end (or stopped early on its own).

    `score` is the task's score (accuracy, or r2 for regression) and `chance` that of a trivial
    predictor (the most common class, or the mean target).
    """
    last = history[-1]
    val_acc, train_acc = last.get(f"val_{score}"), last.get(f"train_{score}")
    ratio = _recent(history, "grad_ratio")
    saturated = _recent(history, "saturated_fraction")
    flow = f"; first/last layer gradient ratio {ratio:.1e}" if ratio is not None else ""
    # Causes first (what to change), then symptoms: a deep sigmoid net that learns nothing is
    # "vanishing" (its gradients never reach the early layers), not merely "stalled". A ratio of
    # exactly 0 is no vanishing flow but no flow at all (zeros init: every unit identical), a stall.
    if saturated is not None and saturated > SATURATED:
        return "saturated", f"{saturated:.0%} of activations sit on their flat ends{flow}"
    if ratio is not None and 0 < ratio < VANISHING_RATIO:
        return "vanishing", f"gradients vanish on the way to the first layer{flow}"
    if ratio is not None and ratio > EXPLODING_RATIO:
        return "exploding", f"gradients grow on the way to the first layer{flow}"
    if val_acc is not None and val_acc <= chance + STALL_MARGIN:
        # the rule's margin in its words: 0.558 "no better than" a chance of 0.508 reads as a contradiction
        how = "is no better than" if val_acc <= chance else f"is within {STALL_MARGIN:g} of"
        return "stalled", f"validation {score} {val_acc:.3f} {how} chance ({chance:.3f}){flow}"
    if val_acc is not None and train_acc is not None and train_acc - val_acc > OVERFIT_GAP:
        return "overfitting", f"training {score} {train_acc:.3f} vs validation {val_acc:.3f}"
    return "ok", ""


def _recent(history: list[dict[str, float]], key: str) -> float | None:
    """The median of a diagnostic over the last three epochs that measured it."""
    values = [h[key] for h in history if key in h]
    return statistics.median(values[-3:]) if values else None
