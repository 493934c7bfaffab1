"""Training-health diagnostics: the figures that say why a configuration trained, or how it failed.

A `Monitor` measures a few steps per epoch, cheaply, and per layer so that the worst layer can be
named: the gradient norm of each weight layer (the first/last ratio shows vanishing or exploding
flow) and of the whole gradient before and after clipping; per activation layer, dead ReLU units,
sigmoid/tanh outputs at their flat ends, the share of gradient the nonlinearity passes, and how much
its output varies over the examples; and the update-to-weight ratio. `weight_statistics` reads the
kept network once a trial: each weight layer's norm, near-zero share and how alike its units are.
sweepnn.outcomes turns a trial's record into an outcome; divergence is decided here, while training,
because it stops the trial at once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import nn

from sweepnn.options import layers
from sweepnn.options.activations import ACTIVATIONS
from sweepnn.outcomes import EXPLODE_FACTOR, NEAR_ZERO, WORST

# Measuring points: the first step of every epoch (so every epoch has diagnostics), then about
# SAMPLES_PER_EPOCH in all but never closer than MIN_INTERVAL steps: a measured step costs about half
# a step more, so measuring stays within a few percent of training time.
SAMPLES_PER_EPOCH = 4
MIN_INTERVAL = 32


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

    Call `measure_grads` after backward, `measure_clipped` after gradient clipping and `measure_update`
    after the optimizer step on the steps `due(step)` selects; activation statistics are taken by
    forward hooks during those steps' forward. `epoch_summary` adds the weights' own statistics, read
    once an epoch.
    """

    def __init__(self, model: nn.Module, steps_per_epoch: int, reference_loss: float, enabled: bool = True):
        self.enabled = enabled
        self.loss_limit = EXPLODE_FACTOR * reference_loss
        self.every = max(MIN_INTERVAL, steps_per_epoch // SAMPLES_PER_EPOCH)
        # Found by type, so any network is read as far as it can be: its weight layers, and its
        # modules of an activation whose units die or saturate (a model with none has no such figures).
        modules = [m for m in layers.weight_modules(model) if m.weight.requires_grad]
        self.layers = [m.weight for m in modules]
        self.params = [p for p in model.parameters() if p.requires_grad]
        position = {id(p): i for i, p in enumerate(self.params)}
        device = self.params[0].device if self.params else None
        self._weight_at = torch.tensor(
            [position[id(w)] for w in self.layers], dtype=torch.long, device=device
        )
        self.active = False
        self._before: list[torch.Tensor] = []
        self._samples: dict[str, list[torch.Tensor]] = {}
        specs = {name: ACTIVATIONS[name] for _, name in layers.activation_modules(model)}
        # every activation module: each one's output spread is the signal; ReLU's can die, sigmoid's saturate
        self._acts = [(m, specs[name]) for m, name in layers.activation_modules(model)]
        # the watched activations' outputs of a measured forward, in the order they ran
        self._outs: list[tuple[object, torch.Tensor]] = []
        self._hooks: list = []

    def due(self, step: int) -> bool:
        """Is step `step` of the epoch a measuring step? If so, watch its forward pass's activations.

        Hooks exist only during a measured forward: a registered hook, even an idle one, takes every
        module call off PyTorch's fast path.
        """
        self.close()  # hooks of a measured step whose gradients were never taken
        self._outs = []
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
            self._outs.append((spec, out.detach()))

    def _measure_activations(self) -> None:
        """Per activation layer, in the order the forward ran them (a module used twice is two layers):
        its figures (see activation_figures), taken for all layers of a shape in one batched pass."""
        outs, self._outs = self._outs, []
        groups: dict[tuple, list[int]] = {}
        for i, (spec, out) in enumerate(outs):
            groups.setdefault((spec.name, tuple(out.shape)), []).append(i)
        # one entry per layer in every figure's list, NaN where the figure does not apply (a ReLU layer
        # has no saturation): a layer's number is its place in the forward, whichever figure names it
        if len(groups) == 1:  # one activation of one shape throughout (an MLP): the figures are in order
            (name, _), idx = next(iter(groups.items()))
            acts = torch.stack([out for _, out in outs]).float()
            for key, values in activation_figures(ACTIVATIONS[name], acts).items():
                self._add(key, values)
            return
        per_layer: dict[str, torch.Tensor] = {}
        for (name, _), idx in groups.items():
            acts = torch.stack([outs[i][1] for i in idx]).float()  # (layers, examples, units, positions...)
            at = torch.tensor(idx, device=acts.device)
            for key, values in activation_figures(ACTIVATIONS[name], acts).items():
                if key not in per_layer:
                    per_layer[key] = torch.full((len(outs),), math.nan, device=acts.device)
                per_layer[key][at] = values
        for key, values in per_layer.items():
            self._add(key, values)

    def measure_grads(self, loss: torch.Tensor) -> None:
        """Per-layer gradient norms and the whole gradient's norm (before clipping); keeps a copy of the
        weights to measure this step's update."""
        self._add("loss", loss.detach())
        # every parameter's gradient norm in one fused kernel: the weight layers' are among them
        norms = self._grad_norms()
        if self.layers:
            self._add("grad_norm", norms[self._weight_at])
        self._add("grad_total", norms.norm())
        self.close()  # the forward pass is over: no more activations to watch
        if self._outs:
            self._measure_activations()
        if self.layers:  # a network without a weight layer found by type has no update to measure
            self._before = torch._foreach_mul([w.detach() for w in self.layers], 1.0)  # one fused copy

    def _grad_norms(self) -> torch.Tensor:
        """Each trainable parameter's gradient norm (0 for one without a gradient), in self.params order."""
        grads = [p.grad if p.grad is not None else torch.zeros((), device=p.device) for p in self.params]
        return torch.stack(torch._foreach_norm(grads)) if grads else torch.zeros(1)

    def measure_clipped(self) -> None:
        """The whole gradient's norm after clipping: what the optimizer was given."""
        self._add("grad_total_clipped", self._grad_norms().norm())

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
        # the whole gradient's norm (biases and norm parameters too): a NaN anywhere is a divergence
        grads = self._samples.get("grad_total")
        total = grads[-1].item() if grads else 0.0
        if not math.isfinite(total):
            return Divergence(step, epoch, "gradient", "non-finite", total)
        return self.check_loss(self._samples["loss"][-1].item(), step, epoch)

    def epoch_summary(self) -> dict[str, float]:
        """Medians of this epoch's measurements and the weights' statistics now, then a fresh start."""
        if not self.enabled:
            return {}
        out = summarize(self._samples)
        self._samples.clear()
        return out

    def close(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []


def _units_second() -> tuple[type, ...]:
    # transposed convolutions keep (in, out, ...) weights and embeddings (tokens, features)
    return tuple(
        getattr(nn, n)
        for n in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Embedding", "EmbeddingBag")
    )


_UNITS_SECOND = _units_second()


def activation_figures(spec, acts: torch.Tensor) -> dict[str, torch.Tensor]:
    """Figures of activation layers `acts` (layers, examples, units, positions...), one value per layer:
    - dead_fraction: units that are 0 or less for every example and position (a dying activation);
    - saturated_fraction: outputs at a saturating activation's flat ends;
    - gradient_pass: the activation's derivative at its inputs relative to its largest, on average: the
      share of gradient the layer lets through (a sigmoid sitting near 0 passes little, without
      being at its ends), and its mean output (where it sits);
    - signal: how much each unit's output varies over the examples (its spread), on average: a
      signal that shrinks layer by layer carries nothing by the top."""
    out: dict[str, torch.Tensor] = {}
    if spec.dies:  # a unit is dead when even its largest output over the batch is <= 0
        reduce = (1, *range(3, acts.dim()))
        out["dead_fraction"] = (acts.amax(dim=reduce) <= 0).float().mean(dim=1)
    if spec.saturates:
        low, high = spec.saturates
        out["saturated_fraction"] = ((acts <= low) | (acts >= high)).flatten(1).float().mean(dim=1)
    if spec.passes is not None:
        out["gradient_pass"] = spec.passes(acts).flatten(1).mean(dim=1)
        out["mean"] = acts.flatten(1).mean(dim=1)  # where a saturated layer sits: near 0, or its top
    # the spread over the examples, written out: torch.std over a middle axis is ten times slower
    spread = (acts - acts.mean(dim=1, keepdim=True)).pow(2).mean(dim=1).sqrt()
    out["signal"] = spread.flatten(1).mean(dim=1)
    return out


# measured whole-network figure -> the name of its median in the record
TOTALS = (
    ("grad_total", "grad_norm"),
    ("grad_total_clipped", "grad_norm_clipped"),
    ("update_ratio", "update_ratio"),
)


def summarize(samples: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """An epoch's record of the measured steps `samples` (one tensor per step): each figure's median
    over the steps, per layer where it has layers, and the worst layer's value for the network. The
    medians are read back in one transfer (one sync an epoch)."""
    medians: dict[str, torch.Tensor] = {}
    for key in ("grad_norm", *(k for k, _ in TOTALS), *WORST, "signal", "mean"):
        values = samples.get(key, [])
        if not values:
            continue
        if len(values) == 1:  # one measured step this epoch: its figures are the epoch's
            medians[key] = values[0].reshape(-1)
        elif len({v.numel() for v in values}) == 1:  # the same layers every step: a median per layer
            medians[key] = torch.stack([v.reshape(-1) for v in values]).nanmedian(dim=0).values
        else:  # a network whose forward runs a varying number of layers: one pooled median
            medians[key] = torch.cat([v.reshape(-1) for v in values]).nanmedian().reshape(1)
    if not medians:
        return {}
    read = torch.cat([m.float() for m in medians.values()]).tolist()
    got, at = {}, 0
    for key, m in medians.items():
        got[key], at = read[at : at + m.numel()], at + m.numel()
    return record_of(got)


def record_of(got: dict[str, list[float]]) -> dict[str, float]:
    """An epoch's record from its medians `got` (measured key -> per-layer values, or one value; NaN
    where a figure does not apply to a layer): what summarize gives, and a stacked group's rows."""
    out: dict[str, float] = {}
    g = got.get("grad_norm")
    if g:
        out["grad_norm_first"], out["grad_norm_last"] = g[0], g[-1]
        out["grad_norms"] = g  # every weight layer's, input to output: where the flow breaks
        out["grad_ratio"] = g[0] / g[-1] if g[-1] > 0 else (0.0 if g[0] == 0 else math.inf)
    for key, name in TOTALS:
        if key in got:
            out[name] = got[key][0]
    if "grad_norm" in out and "grad_norm_clipped" not in out:  # no clipping: the optimizer got it whole
        out["grad_norm_clipped"] = out["grad_norm"]
    for key in (*WORST, "signal", "mean"):
        if key not in got:
            continue
        per_layer = [None if math.isnan(v) else v for v in got[key]]  # None: no such figure there
        measured = [v for v in per_layer if v is not None]
        if not measured:
            continue
        out[f"{key}_by_layer"] = per_layer
        if key in WORST:
            out[key] = WORST[key](measured)
    signal = out.get("signal_by_layer")
    if signal and len(signal) > 1:  # the top activation layer's spread against the first's
        out["signal_ratio"] = signal[-1] / signal[0] if signal[0] > 0 else 1.0
    return out


def weight_statistics(model: nn.Module) -> dict[str, float]:
    """weight_figures of a network's weight layers (found by type): what the kept network's record
    holds, once a trial, beside its training score in evaluation mode."""
    modules = layers.weight_modules(model)
    if not modules:
        return {}
    # the axis of each weight that runs over the layer's units (output features or channels)
    axes = [1 if isinstance(m, _UNITS_SECOND) else 0 for m in modules]
    return weight_figures([m.weight for m in modules], axes)


def weight_figures(weights: list[torch.Tensor], unit_axis: list[int]) -> dict[str, float]:
    """The weight layers' statistics now, per layer: the norm, the fraction of near-zero weights (what
    L1 sparsity shows), and the row spread: how far the layer's units' weights are from being all
    alike (0: every unit identical, which no gradient can change). Layers of one shape are read in
    one batched pass (a deep MLP's hidden layers are one pass, not twenty)."""
    rows = [
        w.detach().movedim(axis, 0).reshape(w.shape[axis], -1).float()
        for w, axis in zip(weights, unit_axis, strict=True)
    ]
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(tuple(r.shape), []).append(i)
    figures = torch.empty(3, len(rows), device=rows[0].device)  # norm, near-zero share, row spread
    for idx in groups.values():
        stack = torch.stack([rows[i] for i in idx])  # (layers, units, weights per unit)
        norm = stack.flatten(1).norm(dim=1)
        spread = (stack - stack.mean(1, keepdim=True)).flatten(1).norm(dim=1) / (norm + 1e-12)
        if stack.shape[1] < 2:  # a layer of one unit is never "all alike"
            spread = torch.ones_like(norm)
        near = (stack.abs() < NEAR_ZERO).flatten(1).float().mean(dim=1)
        figures[:, idx] = torch.stack([norm, near, spread])
    norms_l, near_l, spread_l = figures.tolist()  # one sync
    sizes = [r.numel() for r in rows]
    return {
        "weight_norms": norms_l,
        "near_zero_by_layer": near_l,
        "near_zero_fraction": sum(f * n for f, n in zip(near_l, sizes, strict=True)) / sum(sizes),
        "row_spread_by_layer": spread_l,
        "units_by_layer": [len(r) for r in rows],
    }
