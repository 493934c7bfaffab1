"""Training a group of K same-shaped trials as one stacked network: many trials per second on a CPU.

A small MLP spends most of a step in Python and per-call overhead around its tiny kernels; K of them
stacked on a member axis (training/stacked/nets.py) pay that once per step for all: one batched
matmul per layer, one loss, one backward, one optimizer update (training/stacked/optim.py). Each
member keeps what makes it its own trial: seed (initialization and batch order, drawn as `train()`
draws them), learning rate and schedule (reduce-on-plateau included), optimizer and its
hyperparameters within a family, initialization, dropout rate, penalty, clipping, label smoothing,
early stopping, shuffle.
It shares the rest, which `group_key` names: data, architecture (MLP only), batch size, epochs (or
steps), loss, diagnostics on or off, and the optimizer's family (SGD with any momentum; Adam or AdamW; any
other optimizer, which runs as torch's own per member).

Each member's curve is the curve `train()` gives the same configuration up to float rounding, with
one exception: dropout masks come from one generator for the group, not from the member's seed, so
with dropout > 0 a member's curve is a statistically equal one, not the same one. A member that
diverges or is pruned leaves the stack at once; the others go on.

`train_time` in a member's metrics is its share: each epoch's training time divided by the members
that started it.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Hashable

import torch

from sweepnn.options.augment import active
from sweepnn.options.losses import LOSSES
from sweepnn.options.metrics import own_metrics
from sweepnn.options.models import MODELS, hidden_widths
from sweepnn.options.schedules import SCHEDULES, Plateau, lr_factor
from sweepnn.recipe.config import Recipe
from sweepnn.training import steps
from sweepnn.training.data import Data, load_data
from sweepnn.training.result import TrialResult
from sweepnn.training.stacked.loss import Regularizer, evaluate, member_losses, score_sums
from sweepnn.training.stacked.monitor import GroupMonitor
from sweepnn.training.stacked.nets import StackedMLP, check_stackable
from sweepnn.training.stacked.optim import build_stacked_optimizer, update_of
from sweepnn.training.trainer import read_kept

__all__ = ["GroupReport", "group_key", "train_group", "ungroupable"]

# report(member, epoch, metrics) -> True to stop that member now (it was pruned)
GroupReport = Callable[[int, int, dict[str, float]], bool]

# per-member settings: everything else in `model` and `train` must be equal across a group
PER_MEMBER_MODEL = {"init", "dropout"}
SHARED_TRAIN = ("epochs", "steps", "batch_size", "loss", "diagnostics")


def ungroupable(cfg: Recipe) -> str | None:
    """Why this configuration cannot train in a group, or None when it can."""
    if not MODELS[cfg.model.name].stacked:
        stacked = [name for name, spec in MODELS.items() if spec.stacked]
        return f"model {cfg.model.name!r} has no stacked form (only {', '.join(stacked)})"
    loss = cfg.train.loss
    if loss is not None and LOSSES[loss.name].per_example is None:
        each = [name for name, spec in LOSSES.items() if spec.per_example is not None]
        return f"loss {loss.name!r} has no per-member form (only {', '.join(each)})"
    if own_metrics(cfg):
        return f"metrics {', '.join(own_metrics(cfg))} are computed on each trial's own network; not stacked"
    if active(cfg.data.augment):
        return "data augmentation draws from each trial's generator between batches; not stacked"
    if cfg.train.precision != "fp32":
        return f"{cfg.train.precision} autocast is not stacked (the stacked kernels are fp32)"
    return None


def group_key(cfg: Recipe) -> Hashable | None:
    """Configurations with equal keys can train as one group; None: this one trains alone
    (`ungroupable` says why). The key is the JSON of what members share."""
    if ungroupable(cfg) is not None:
        return None
    t = cfg.train
    shared = {
        "data": cfg.data.model_dump(mode="json"),
        "model": cfg.model.model_dump(mode="json", exclude=PER_MEMBER_MODEL),
        "train": {k: getattr(t, k) for k in SHARED_TRAIN},
        "optimizer_update": update_of(t.optimizer.name),
    }
    shared["train"]["loss"] = t.loss.model_dump(mode="json") if t.loss is not None else None
    if t.steps is not None:  # the steps decide the run's length: `epochs` is unused then
        del shared["train"]["epochs"]
    return json.dumps(shared, sort_keys=True)


class _Member:
    """One trial of the group: its configuration, network, batch-order generator and record."""

    def __init__(self, index: int, cfg: Recipe, data: Data, device: torch.device):
        self.index, self.cfg, t = index, cfg, cfg.train
        torch.manual_seed(t.seed)  # as train() does: the member's initialization is its own
        self.gen = torch.Generator(device=device).manual_seed(t.seed)
        self.model = MODELS[cfg.model.name].build(cfg.model, data.input_shape, data.n_outputs).to(device)
        self.plateau = Plateau(t.schedule) if SCHEDULES[t.schedule.name].on_plateau else None
        self.stopper = steps.EarlyStop(t.early_stopping) if t.early_stopping else None
        self.history: list[dict[str, float]] = []
        self.train_time = 0.0
        self.result: TrialResult | None = None

    def dropout(self, depth: int) -> list[float]:
        rate = self.cfg.model.dropout
        return list(rate) if isinstance(rate, list) else [rate] * depth

    def factor(self, step: int, total: int, steps_per_epoch: int) -> float:
        scale = self.plateau.scale if self.plateau else 1.0
        return lr_factor(self.cfg.train.schedule, step, total, steps_per_epoch) * scale


def epoch_orders(members: list[_Member], n: int, device: torch.device) -> torch.Tensor:
    """(K, n): each member's order of the training examples this epoch, drawn as train() draws it."""
    return torch.stack(
        [
            torch.randperm(n, generator=m.gen, device=device)
            if m.cfg.train.shuffle
            else torch.arange(n, device=device)
            for m in members
        ]
    )


class Batches:
    """Each member's batch gathered into one (K, B, ...) tensor, written into buffers kept across
    steps: a fresh tensor every step costs page faults on a CPU, more than the gather itself."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y
        self.buffers: dict[tuple, torch.Tensor] = {}

    def _take(self, data: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        key = (data.data_ptr(), *idx.shape)
        out = self.buffers.get(key)
        if out is None:
            out = self.buffers[key] = data.new_empty((idx.numel(), *data.shape[1:]))
        return torch.index_select(data, 0, idx.reshape(-1), out=out).view(*idx.shape, *data.shape[1:])

    def __call__(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._take(self.x, idx), self._take(self.y, idx)


def train_group(
    cfgs: list[Recipe], device: torch.device, report: GroupReport | None = None, data: Data | None = None
) -> list[TrialResult]:
    """Train the configurations as one stacked group; one TrialResult per member, in order.

    Every configuration must have the same `group_key` (not None). `report(member, epoch, metrics)`
    is called for each member still training after each epoch; True stops that member (pruned).
    """
    if not cfgs:
        raise ValueError("train_group needs at least one configuration")
    keys = {group_key(c) for c in cfgs}
    if None in keys or len(keys) != 1:
        why = [ungroupable(c) for c in cfgs if ungroupable(c)]
        raise ValueError(
            f"these configurations cannot train as one group: {why[0] if why else 'keys differ'}"
        )
    first = cfgs[0]
    t = first.train
    data = data or load_data(first.data, device)
    x, y = data.x_train, data.y_train
    n = len(x)
    bounds, steps_per_epoch, total_steps = steps.cut(t, n)
    epochs, last_steps = steps.epochs_of(t, steps_per_epoch)
    task = data.task
    loss_params = steps.loss_of(t, task)

    members = [_Member(i, c, data, device) for i, c in enumerate(cfgs)]
    check_stackable([m.model for m in members])
    depth = len(hidden_widths(first.model))
    # Dropout masks cannot follow each member's global-RNG draws; one generator serves the group.
    gen = torch.Generator(device=device).manual_seed(t.seed)
    net = StackedMLP(first.model, [m.model for m in members], [m.dropout(depth) for m in members], gen)
    regs = [c.train.regularization for c in cfgs]
    opt = build_stacked_optimizer([c.train.optimizer for c in cfgs], [r.decay_biases for r in regs], net.flat)
    reg = Regularizer(regs, net.flat)
    reference = steps.reference_loss(task, data.n_outputs, data.y_var[0])
    monitor = GroupMonitor(first.model.activation, steps_per_epoch, reference, t.diagnostics)
    check_every_step = device.type == "cpu"  # as train(): reading the loss is free on a CPU only

    live = list(members)  # the members still training, in the stack's row order
    batches = Batches(x, y)

    def finish(row: int, outcome: str, reason: str) -> None:
        m = live[row]
        now = net.member_state(row)

        def kept(best: dict | None) -> dict[str, float]:
            # the member's kept network, read as train() reads it alone
            m.model.load_state_dict(best if best is not None else now)
            return read_kept(m.model, data, task, loss_params)

        outcome, final, reason, state = steps.conclude(
            m.history,
            outcome,
            reason,
            m.stopper,
            data.chance,
            task,
            now,
            kept if t.diagnostics else None,
        )
        m.model.load_state_dict(state)
        m.result = TrialResult(outcome, final, m.history, reason, m.model, chance=data.chance)

    def drop(gone) -> torch.Tensor:
        """Take the finished members out of the stack: the others' rows, in order."""
        nonlocal live
        rows = torch.tensor([r for r in range(len(live)) if r not in gone], dtype=torch.long)
        if gone:
            net.select(rows, [net.names[r] for r in rows.tolist()])
            for part in (opt, reg, monitor):
                part.select(rows)
            live = [live[r] for r in rows.tolist()]
        return rows

    step = 0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        started = len(live)
        orders = epoch_orders(live, n, device)
        k = steps_per_epoch if epoch < epochs else last_steps  # as train(): a last partial epoch
        seen = bounds[k]
        # each member's learning-rate factor at each step of the epoch: (steps, K)
        factors = torch.tensor(
            [[m.factor(step + i, total_steps, steps_per_epoch) for m in live] for i in range(k)],
            dtype=torch.float64,
        )
        loss_sum = torch.zeros(len(live), device=device)
        score_sum = torch.zeros(len(live), device=device)
        for i in range(k):
            lr = opt.lr * factors[i]
            measuring = monitor.due(i)
            xb, yb = batches(orders[:, bounds[i] : bounds[i + 1]])
            watch = monitor.watch(measuring)
            out = net.forward(xb, training=True, watch=watch)
            loss = member_losses(loss_params, task, out, yb, reg.smoothing)
            net.backward(loss.sum())
            loss = loss.detach()
            penalty = reg.penalty(net.flat, net.grad, net.n_decay)
            if penalty is not None:
                loss = loss + penalty
            if measuring:  # before clipping: the raw gradients are what shows an explosion
                if watch is not None:
                    monitor.measure_activations(watch)
                monitor.measure_grads(net, loss)
            reg.clip(net.grad)
            if measuring:  # ... and after: what the optimizer was given
                monitor.measure_clipped(net)
            opt.step(net.flat, net.grad, lr, net.n_decay)
            if measuring:
                monitor.measure_update(net)
            diverged = monitor.check(loss, measuring, step, epoch) if measuring or check_every_step else {}
            step += 1
            loss_sum += loss * (bounds[i + 1] - bounds[i])
            score_sum += score_sums(task, out.detach(), yb)
            if diverged:
                spent = time.perf_counter() - t0
                for row, d in diverged.items():
                    m = live[row]
                    m.train_time += spent / started
                    m.history.append(steps.diverged_epoch(epoch, d, m.train_time))
                    finish(row, "diverged", str(d))
                rows = drop(diverged)
                rows_d = rows.to(device)
                orders, loss_sum, score_sum = orders[rows_d], loss_sum[rows_d], score_sum[rows_d]
                factors, lr = factors[:, rows], lr[rows]
                if not live:
                    break
        if not live:
            break
        spent = time.perf_counter() - t0
        val_loss, val_score = evaluate(net, data.x_val, data.y_val, task, loss_params)
        summaries = monitor.epoch_summary(net)
        stopped: dict[int, tuple[str, str]] = {}
        rows_metrics = zip(
            loss_sum.tolist(),
            score_sum.tolist(),
            val_loss.tolist(),
            val_score.tolist(),
            lr.tolist(),
            strict=True,
        )
        for row, (m, (ls, ss, vl, vs, lr_now)) in enumerate(zip(live, rows_metrics, strict=True)):
            m.train_time += spent / started
            train_score = steps.score(task, ss, seen, data.y_var[0], y)
            val = steps.score(task, vs, len(data.x_val), data.y_var[1], data.y_val)
            metrics = steps.epoch_metrics(
                epoch,
                task,
                (ls / seen, train_score),
                (vl / len(data.x_val), val),
                m.train_time,
                lr_now,
                summaries[row],
            )
            m.history.append(metrics)
            hears = functools.partial(report, m.index) if report is not None else None
            state = functools.partial(net.member_state, row)
            stop = steps.after_epoch(epoch, metrics, m.plateau, hears, m.stopper, state)
            if stop is not None:
                stopped[row] = stop
        for row, (outcome, reason) in stopped.items():
            finish(row, outcome, reason)
        drop(stopped)
        if not live:
            break
    for row in range(len(live)):
        finish(row, "", "")
    return [m.result for m in members]
