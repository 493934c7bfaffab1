"""Training-health diagnostics of a stacked group: sweepnn.training.diagnostics.Monitor, one row per member.

The same measurements at the same steps (gradient norm per weight layer and of the whole gradient before
and after clipping, each activation layer's dead, saturated, gradient-passing and signal figures, the
update-to-weight ratio), the same weight statistics once an epoch, and the same divergence rules
(non-finite or exploded loss, non-finite gradient), each taken for all members by one operation on the
stack; no hooks are needed, since the stacked forward hands over its activations when asked.
"""

from __future__ import annotations

import math

import torch

from sweepnn.options.activations import ACTIVATIONS
from sweepnn.training.diagnostics import (
    EXPLODE_FACTOR,
    MIN_INTERVAL,
    SAMPLES_PER_EPOCH,
    Divergence,
    activation_figures,
    record_of,
)
from sweepnn.training.stacked.nets import StackedMLP
from sweepnn.training.stacked.rows import Rows


class GroupMonitor(Rows):
    """Monitor's measurements and divergence rules for a stacked group, each taken for all members at once as
    one row per member; `select` keeps the rows of the members still training."""

    def __init__(self, activation, steps_per_epoch: int, reference_loss: float, enabled: bool):
        self.enabled = enabled
        self.loss_limit = EXPLODE_FACTOR * reference_loss
        self.every = max(MIN_INTERVAL, steps_per_epoch // SAMPLES_PER_EPOCH)
        self.spec = ACTIVATIONS[activation.name]
        # Monitor watches only the activations whose units die or saturate
        self.watched = True  # every activation's output spread is the signal (as Monitor watches them all)
        self.samples: dict[str, list[torch.Tensor]] = {}  # key -> one (K, ...) tensor per measurement
        self._before: torch.Tensor | None = None

    def due(self, step: int) -> bool:
        """Is step `step` of the epoch a measuring step (as Monitor.due decides)?"""
        return self.enabled and step % self.every == 0

    def watch(self, measuring: bool) -> list | None:
        """The list the forward pass fills with activations on a measuring step, else None."""
        return [] if measuring and self.watched else None

    def select(self, rows: torch.Tensor) -> None:
        self.samples = {k: [v[rows.to(v.device)] for v in vs] for k, vs in self.samples.items()}
        self._before = None

    def _add(self, key: str, value: torch.Tensor) -> None:
        self.samples.setdefault(key, []).append(value.detach().float())

    def measure_activations(self, outputs: list[torch.Tensor]) -> None:
        """Each member's figures of each activation layer (diagnostics.activation_figures), in forward
        order: (K, layers) per figure. Layers of one shape are measured in one batched pass."""
        if not outputs:
            return
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, h in enumerate(outputs):  # (K, B, units)
            groups.setdefault(tuple(h.shape), []).append(i)
        per_layer: dict[str, list] = {}
        for idx in groups.values():
            # (layers * K, B, units): activation_figures' leading axis, one value per layer and member
            acts = outputs[idx[0]] if len(idx) == 1 else torch.stack([outputs[i] for i in idx]).flatten(0, 1)
            for key, values in activation_figures(self.spec, acts.float()).items():
                slots = per_layer.setdefault(key, [None] * len(outputs))
                for i, v in zip(idx, values.view(len(idx), -1), strict=True):
                    slots[i] = v
        for key, layers in per_layer.items():
            self._add(key, torch.stack(layers, dim=1))

    def measure_grads(self, net: StackedMLP, loss: torch.Tensor) -> None:
        """Per-layer gradient norms of each member and its whole gradient's norm (every trainable tensor,
        as clip_grad_norm_ sees it), before clipping; keeps the weights to measure this step's update."""
        self._add("grad_norm", net.weight_norms(net.grad))
        self._add("grad_total", torch.linalg.vector_norm(net.grad, dim=1))
        self._add("loss", loss)
        self._before = net.flat[:, : net.n_decay].clone()

    def measure_clipped(self, net: StackedMLP) -> None:
        """Each member's whole gradient's norm after clipping: what its optimizer was given."""
        self._add("grad_total_clipped", torch.linalg.vector_norm(net.grad, dim=1))

    def measure_update(self, net: StackedMLP) -> None:
        change = net.weight_norms(net.flat[:, : net.n_decay] - self._before)
        size = net.weight_norms(self._before)
        self._add("update_ratio", (change / (size + 1e-12)).mean(1))
        self._before = None

    def check(self, loss: torch.Tensor, measuring: bool, step: int, epoch: int) -> dict[int, Divergence]:
        """{row: how it diverged} for the members whose loss (or, when measured, gradient) broke."""
        bad = ~torch.isfinite(loss) | (loss > self.loss_limit)
        # the whole gradient's norm (biases and norm parameters too): a NaN anywhere is a divergence
        grad = self.samples["grad_total"][-1] if measuring else None
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

    def epoch_summary(self, net: StackedMLP) -> list[dict[str, float]]:
        """Each member's record of this epoch, as Monitor.epoch_summary gives it alone (diagnostics'
        summarize, for all members at once), then a fresh start."""
        if not self.enabled:
            self.samples.clear()
            return [{} for _ in range(net.size)]
        self.samples.pop("loss", None)
        # every figure's median over the measured steps: (K, width) each
        parts = {key: torch.stack(values).median(dim=0).values for key, values in self.samples.items()}
        self.samples.clear()
        return [record_of(row) for row in _rows(parts, net.size)]


def _rows(parts: dict[str, torch.Tensor], size: int) -> list[dict[str, list[float]]]:
    """{key: (K, ...) tensor} as one dict of lists per member, read back in one transfer."""
    flat = {k: v.reshape(size, -1).float() for k, v in parts.items()}
    if not flat:
        return [{} for _ in range(size)]
    values = torch.cat(list(flat.values()), dim=1).tolist()  # the one sync
    out = []
    for row in values:
        record, at = {}, 0
        for key, v in flat.items():
            record[key], at = row[at : at + v.shape[1]], at + v.shape[1]
        out.append(record)
    return out
