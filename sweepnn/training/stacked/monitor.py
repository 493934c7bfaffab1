"""Training-health diagnostics of a stacked group: sweepnn.training.diagnostics.Monitor, one row per member.

The same measurements at the same steps (gradient norm per weight layer, dead or saturated units,
update-to-weight ratio) and the same divergence rules (non-finite or exploded loss, non-finite
gradient), each taken for all members by one operation on the stack; no hooks are needed, since
the stacked forward hands over its activations when asked.
"""

from __future__ import annotations

import math

import torch

from sweepnn.options.activations import ACTIVATIONS
from sweepnn.training.diagnostics import EXPLODE_FACTOR, MIN_INTERVAL, SAMPLES_PER_EPOCH, Divergence
from sweepnn.training.stacked.nets import StackedMLP
from sweepnn.training.stacked.rows import Rows


class GroupMonitor(Rows):
    """Monitor's measurements and divergence rules for a stacked group, each taken for all members at once as
    one row per member; `select` keeps the rows of the members still training."""

    def __init__(self, activation, steps_per_epoch: int, reference_loss: float, enabled: bool):
        self.enabled = enabled
        self.loss_limit = EXPLODE_FACTOR * reference_loss
        self.every = max(MIN_INTERVAL, steps_per_epoch // SAMPLES_PER_EPOCH)
        spec = ACTIVATIONS[activation.name]
        self.dies, self.saturates = spec.dies, spec.saturates
        self.samples: dict[str, list[torch.Tensor]] = {}  # key -> one (K, ...) tensor per measurement
        self._before: torch.Tensor | None = None

    def due(self, step: int) -> bool:
        """Is step `step` of the epoch a measuring step (as Monitor.due decides)?"""
        return self.enabled and step % self.every == 0

    def watch(self, measuring: bool) -> list | None:
        """The list the forward pass fills with activations on a measuring step, else None."""
        return [] if measuring and (self.dies or self.saturates) else None

    def select(self, rows: torch.Tensor) -> None:
        self.samples = {k: [v[rows.to(v.device)] for v in vs] for k, vs in self.samples.items()}
        self._before = None

    def _add(self, key: str, value: torch.Tensor) -> None:
        self.samples.setdefault(key, []).append(value.detach().float())

    def measure_activations(self, outputs: list[torch.Tensor]) -> None:
        for h in outputs:  # (K, B, units)
            if self.dies:  # a dead unit outputs 0 for every example of the member's batch
                self._add("dead_fraction", (h <= 0).all(dim=1).float().mean(1))
            if self.saturates:
                low, high = self.saturates
                self._add("saturated_fraction", ((h <= low) | (h >= high)).flatten(1).float().mean(1))

    def measure_grads(self, net: StackedMLP, loss: torch.Tensor) -> None:
        """Per-layer gradient norms of each member (before clipping); keeps the weights to measure
        this step's update."""
        self._add("grad_norm", net.weight_norms(net.grad))
        self._add("loss", loss)
        self._before = net.flat[:, : net.n_decay].clone()

    def measure_update(self, net: StackedMLP) -> None:
        change = net.weight_norms(net.flat[:, : net.n_decay] - self._before)
        size = net.weight_norms(self._before)
        self._add("update_ratio", (change / (size + 1e-12)).mean(1))
        self._before = None

    def check(self, loss: torch.Tensor, measuring: bool, step: int, epoch: int) -> dict[int, Divergence]:
        """{row: how it diverged} for the members whose loss (or, when measured, gradient) broke."""
        bad = ~torch.isfinite(loss) | (loss > self.loss_limit)
        grad = self.samples["grad_norm"][-1].norm(dim=1) if measuring else None
        if grad is not None:
            bad |= ~torch.isfinite(grad)
        if not bool(bad.any()):  # the one sync of a step
            return {}
        out = {}
        for row in bad.nonzero().flatten().tolist():
            g = grad[row].item() if grad is not None else 0.0
            if not math.isfinite(g):
                out[row] = Divergence(step, epoch, "gradient", "non-finite", g)
            else:
                value = loss[row].item()
                how = "non-finite" if not math.isfinite(value) else "exploded"
                out[row] = Divergence(step, epoch, "loss", how, value)
        return out

    def epoch_summary(self, size: int) -> list[dict[str, float]]:
        """Each member's medians of this epoch's measurements, then a fresh start."""
        out: list[dict] = [{} for _ in range(size)]
        grads = self.samples.pop("grad_norm", [])
        if grads:
            med = torch.stack(grads).median(dim=0).values.tolist()  # (K, layers)
            for row, g in zip(out, med, strict=True):
                row["grad_norm_first"], row["grad_norm_last"] = g[0], g[-1]
                row["grad_norms"] = g
                row["grad_ratio"] = g[0] / g[-1] if g[-1] > 0 else (0.0 if g[0] == 0 else math.inf)
        for key in ("dead_fraction", "saturated_fraction", "update_ratio"):
            values = self.samples.pop(key, [])
            if values:
                for row, v in zip(out, torch.stack(values).median(dim=0).values.tolist(), strict=True):
                    row[key] = v
        self.samples.clear()
        return out
