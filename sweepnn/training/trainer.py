"""The trainer: one configuration in, a trained network's metrics out. It knows nothing of studies.

Read top to bottom: data, model, optimizer, schedule; then the loop, which reports each epoch's
metrics to a callback that may ask it to stop (that is how pruning reaches in).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import torch

from sweepnn.options.augment import active, augment_batch
from sweepnn.options.losses import LOSSES
from sweepnn.options.metrics import METRICS, own_metrics
from sweepnn.options.models import MODELS
from sweepnn.options.optimizers import build_optimizer
from sweepnn.options.regularizers import penalty_term
from sweepnn.options.schedules import SCHEDULES, Plateau, lr_factor, lr_is_constant
from sweepnn.options.users_code import call
from sweepnn.recipe.config import Recipe
from sweepnn.training import steps
from sweepnn.training.data import Data, load_data
from sweepnn.training.diagnostics import Monitor, weight_statistics
from sweepnn.training.result import TrialResult

# report(epoch, metrics) -> True to stop the trial now (it was pruned)
Report = Callable[[int, dict[str, float]], bool]


def _split_decay(model: torch.nn.Module, decay_all: bool) -> tuple[list, list]:
    """Matrices and kernels decay; biases and normalization parameters (1-D) do not, unless asked."""
    decay, keep = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if decay_all or p.dim() >= 2 else keep).append(p)
    return decay, keep


def _score_sum(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Correct predictions (classification) or the squared error (regression) summed over a batch."""
    if task == "classification":
        return (out.argmax(1) == y).sum()
    return (out.reshape(y.shape) - y).pow(2).sum()


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, task: str, loss, y_var: float = 1.0):
    """(mean loss, score) in evaluation mode: dropout off, batchnorm on running statistics."""
    model.eval()
    fn = LOSSES[loss.name].fn
    loss_sum = torch.zeros((), device=x.device)
    total = torch.zeros((), device=x.device)
    for i in range(0, len(x), steps.EVAL_CHUNK):
        out, yb = model(x[i : i + steps.EVAL_CHUNK]), y[i : i + steps.EVAL_CHUNK]
        loss_sum += fn(loss, _shape(out, yb), yb, 0.0) * len(yb)
        total += _score_sum(task, out, yb)
    n = len(x)
    return loss_sum.item() / n, steps.score(task, total.item(), n, y_var, y)  # one sync per evaluation


@torch.no_grad()
def evaluate_own(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]
) -> dict[str, float]:
    """A user's own metrics `names`, each computed once on the split's outputs in evaluation mode."""
    model.eval()
    out = torch.cat([model(x[i : i + steps.EVAL_CHUNK]).float() for i in range(0, len(x), steps.EVAL_CHUNK)])
    return {name: float(call(f"metric {name!r}", METRICS[name].compute, out, y)) for name in names}


def read_kept(model: torch.nn.Module, data: Data, task: str, loss) -> dict[str, float]:
    """What is read of the network a trial keeps, once: its loss and score on (a spread sample of) the
    training split in evaluation mode (dropout off, batchnorm on running statistics; the epochs'
    train_* are running averages over their batches, in training mode), and its weights' statistics."""
    # Every k-th training example, as many as the validation split holds (at least 1024): a score as
    # precise as the validation score it is set against, without a pass over a large training set.
    stride = max(1, len(data.x_train) // max(len(data.x_val), 1024))
    x, y = data.x_train[::stride], data.y_train[::stride]
    train_loss, train_score = evaluate(model, x, y, task, loss, data.y_var[0])
    key = steps.score_key(task)
    return {"train_eval_loss": train_loss, f"train_eval_{key}": train_score, **weight_statistics(model)}


def _autocast(precision: str, device: torch.device):
    """The context forward passes run in: bfloat16 autocast, or none for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _shape(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Regression outputs in the targets' shape ((N, 1) against (N,))."""
    return out if y.dtype == torch.long else out.reshape(y.shape)


def train(
    cfg: Recipe, device: torch.device, report: Report | None = None, data: Data | None = None
) -> TrialResult:
    """Train one network as the recipe says and diagnose how it trained.

    `cfg` is one trial's configuration (a Recipe with nothing left to search); `data` the split
    tensors on `device` (loaded from cfg.data when not given, e.g. when a sweep shares them). After
    each epoch `report(epoch, metrics)` hears its metrics and may stop the run (True: pruned).
    Returns the outcome (ok, stalled, ..., diverged, pruned), the final metrics (the best epoch's
    with early stopping's restore_best), every epoch's metrics, the reason in words, and the model.
    """
    t = cfg.train
    reg = t.regularization
    data = data or load_data(cfg.data, device)
    x, y = data.x_train, data.y_train
    n = len(x)
    bounds, steps_per_epoch, total_steps = steps.cut(t, n)
    epochs, last_steps = steps.epochs_of(t, steps_per_epoch)

    # Seed everything the trial draws: initialization, dropout masks, batch order.
    torch.manual_seed(t.seed)
    gen = torch.Generator(device=device).manual_seed(t.seed)
    model = MODELS[cfg.model.name].build(cfg.model, data.input_shape, data.n_outputs).to(device)
    task = data.task
    loss_params = steps.loss_of(t, task)
    loss_fn = LOSSES[loss_params.name].fn

    # bf16 autocast around forward passes and losses (weights, gradients and the optimizer stay
    # fp32); channels_last for image CNNs: the model's kernels and every batch in NHWC.
    autocast = _autocast(t.precision, device)
    layout = torch.channels_last if t.channels_last else torch.contiguous_format
    if t.channels_last:
        model = model.to(memory_format=layout)

    augmentations = active(cfg.data.augment)  # training batches only: evaluation sees the data as is
    decay, keep = _split_decay(model, reg.decay_biases)
    # Biases and norm parameters are kept out of weight decay in a group of their own; without any
    # decay one group does (a second group is a second optimizer kernel every step).
    if getattr(t.optimizer, "weight_decay", 0.0) and keep:
        groups = [{"params": decay}, {"params": keep, "weight_decay": 0.0}]
    else:
        groups = [{"params": decay + keep}]
    opt = build_optimizer(t.optimizer, groups)
    base_lrs = [g["lr"] for g in opt.param_groups]
    plateau = Plateau(t.schedule) if SCHEDULES[t.schedule.name].on_plateau else None
    constant_lr = lr_is_constant(t.schedule)
    monitor = Monitor(
        model,
        steps_per_epoch,
        reference_loss=steps.reference_loss(task, data.n_outputs, data.y_var[0]),
        enabled=t.diagnostics,
    )
    # On the CPU reading the loss costs nothing, so every step is checked; on a GPU it would force a
    # sync, so the loss is checked only at the monitor's measuring steps (a few per epoch).
    check_every_step = device.type == "cpu"
    clipping = reg.clip_value is not None or reg.clip_norm is not None
    stopper = steps.EarlyStop(t.early_stopping) if t.early_stopping else None
    own = own_metrics(cfg)  # a user's metrics the recipe names, computed on the validation split

    # Training metrics are gathered on the device as the epoch goes (reading .item() every step would
    # sync and slow small models), with as little work a step as possible: each batch's loss and
    # predicted classes are kept as they are, and summed once an epoch.
    batch_sizes = torch.tensor([bounds[i + 1] - bounds[i] for i in range(steps_per_epoch)], device=device)
    classify_task = task == "classification"
    history: list[dict[str, float]] = []
    outcome, reason = "", ""
    train_time = 0.0
    step = 0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = (
            torch.randperm(n, generator=gen, device=device) if t.shuffle else torch.arange(n, device=device)
        )
        # a budget in steps ends on a partial epoch: its first batches of this epoch's order
        k = steps_per_epoch if epoch < epochs else last_steps
        seen = bounds[k]
        losses: list[torch.Tensor] = []
        scores: list[torch.Tensor] = []  # predicted classes, or each batch's squared error
        diverged = None
        for i in range(k):
            if not constant_lr:
                f = lr_factor(t.schedule, step, total_steps, steps_per_epoch) * (
                    plateau.scale if plateau else 1.0
                )
                for g, base in zip(opt.param_groups, base_lrs, strict=True):
                    g["lr"] = base * f
            measuring = monitor.due(i)  # arms the activation hooks for this forward pass
            idx = order[bounds[i] : bounds[i + 1]]
            xb, yb = x[idx], y[idx]
            if augmentations:
                xb = augment_batch(augmentations, xb, gen)
            with autocast:
                out = model(xb.contiguous(memory_format=layout) if t.channels_last else xb)
                loss = loss_fn(loss_params, _shape(out.float(), yb), yb, reg.label_smoothing)
            penalty = penalty_term(reg.penalty, decay)  # on the tensors weight decay would touch
            if penalty is not None:
                loss = loss + penalty
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if measuring:  # before clipping: the raw gradients are what shows an explosion
                monitor.measure_grads(loss)
            if reg.clip_value is not None:
                torch.nn.utils.clip_grad_value_(model.parameters(), reg.clip_value)
            if reg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), reg.clip_norm)
            if measuring and clipping:  # ... and after: what the optimizer was given
                monitor.measure_clipped()
            opt.step()
            if measuring:
                monitor.measure_update()
                diverged = monitor.check(step, epoch)
            elif check_every_step:
                diverged = monitor.check_loss(loss.item(), step, epoch)
            step += 1
            if diverged:
                break
            losses.append(loss.detach())
            scores.append(out.detach().argmax(1) if classify_task else _score_sum(task, out.detach(), yb))
        train_time += time.perf_counter() - t0
        if diverged:
            outcome, reason = "diverged", str(diverged)
            history.append(steps.diverged_epoch(epoch, diverged, train_time))
            break
        with autocast:
            val_loss, val_score = evaluate(model, data.x_val, data.y_val, task, loss_params, data.y_var[1])
            measured = evaluate_own(model, data.x_val, data.y_val, own) if own else {}
        # correct predictions (in the order the batches were drawn), or the summed squared error
        drawn = order if k == steps_per_epoch else order[:seen]
        score_sum = (torch.cat(scores) == y[drawn]).sum() if classify_task else torch.stack(scores).sum()
        sizes = batch_sizes if k == steps_per_epoch else batch_sizes[:k]
        train_loss = (torch.stack(losses) * sizes).sum().item() / seen
        train_score = steps.score(task, score_sum.item(), seen, data.y_var[0], y)
        lr = opt.param_groups[0]["lr"]
        diagnosed = monitor.epoch_summary()
        metrics = steps.epoch_metrics(
            epoch, task, (train_loss, train_score), (val_loss, val_score), train_time, lr, diagnosed
        )
        metrics |= measured
        history.append(metrics)
        stop = steps.after_epoch(epoch, metrics, plateau, report, stopper, model.state_dict)
        if stop is not None:
            outcome, reason = stop
            break
    monitor.close()

    def kept(best: dict | None) -> dict[str, float]:
        if best is not None:  # restore_best: the best epoch's weights
            model.load_state_dict(best)
        with autocast:
            return read_kept(model, data, task, loss_params)

    outcome, final, reason, best = steps.conclude(
        history, outcome, reason, stopper, data.chance, task, None, kept if t.diagnostics else None
    )
    if best is not None:  # early stopping's restore_best: the best epoch's weights
        model.load_state_dict(best)
    return TrialResult(outcome, final, history, reason, model, chance=data.chance)
