"""What each member of a stacked group minimizes, and how it scores: its loss (with its own label
smoothing), its weight penalty and its gradient clipping, all for K members at once.

The penalty's gradient is written into the group's gradient buffer directly (what autograd would add
for l1 * |w| + l2 * w^2); clipping works on each member's row of that buffer.
"""

from __future__ import annotations

import torch

from sweepnn.options.losses import LOSSES
from sweepnn.options.regularizers import PENALTIES
from sweepnn.training.stacked.nets import StackedMLP
from sweepnn.training.stacked.rows import Rows, column
from sweepnn.training.steps import EVAL_CHUNK


def member_losses(loss, task: str, out: torch.Tensor, y: torch.Tensor, smoothing) -> torch.Tensor:
    """(K,) mean loss of each member over its batch: out (K, B, outputs), y (K, B, ...)."""
    k = out.shape[0]
    each = LOSSES[loss.name].per_example  # ungroupable() keeps losses without one out of groups
    if task != "classification":
        return each(loss, out.reshape(y.shape), y).flatten(1).mean(1)
    if smoothing is None:
        return each(loss, out.flatten(0, 1), y.flatten()).view(k, -1).mean(1)
    # label smoothing, each member its own amount: F.cross_entropy's formula (classification's loss)
    logp = out.log_softmax(-1)
    nll = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(1)
    smooth = -logp.sum(-1).mean(1)
    return (1 - smoothing) * nll + smooth * (smoothing / out.shape[-1])


def score_sums(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K,) correct predictions, or summed squared errors, of each member."""
    if task == "classification":
        return (out.argmax(-1) == y).sum(1)
    return (out.reshape(y.shape) - y).pow(2).flatten(1).sum(1)


@torch.no_grad()
def evaluate(net: StackedMLP, x, y, task: str, loss) -> tuple[torch.Tensor, torch.Tensor]:
    """(K,) summed loss and score sums over a split every member sees whole (as trainer.evaluate)."""
    k = net.size
    loss_sum = torch.zeros(k, device=x.device)
    scores = torch.zeros(k, device=x.device)
    chunk = max(256, EVAL_CHUNK // k)  # the trainer's bound on memory, in examples times members
    for i in range(0, len(x), chunk):
        xb, yb = x[i : i + chunk], y[i : i + chunk]
        out = net.forward(xb.expand(k, *xb.shape), training=False)
        yk = yb.expand(k, *yb.shape)
        loss_sum += member_losses(loss, task, out, yk, None) * len(yb)
        scores += score_sums(task, out, yk)
    return loss_sum, scores


class Regularizer(Rows):
    """Per member: L1/L2/elastic-net penalty, gradient clipping by value and by global norm, label
    smoothing."""

    rows = ("l1", "l2", "rest", "clip_value", "clip_norm", "label_smoothing")

    def __init__(self, regs: list, like: torch.Tensor):
        l1, l2 = zip(*(PENALTIES[r.penalty.name].coefficients(r.penalty) for r in regs), strict=True)
        self.l1, self.l2 = column(l1, like), column(l2, like)
        self.rest = column([r.decay_biases for r in regs], like, torch.bool)
        inf = float("inf")
        self.clip_value = column([r.clip_value or inf for r in regs], like)
        self.clip_norm = column([r.clip_norm or inf for r in regs], like)
        self.label_smoothing = column([r.label_smoothing for r in regs], like).view(-1)
        self.refresh()

    def refresh(self) -> None:
        self.penalized = bool(((self.l1 > 0) | (self.l2 > 0)).any())
        self.penalized_rest = self.penalized and bool(self.rest.any())
        self.clips_value = bool(torch.isfinite(self.clip_value).any())
        self.clips_norm = bool(torch.isfinite(self.clip_norm).any())
        # None: plain cross-entropy for everyone (the cheaper loss)
        self.smoothing = self.label_smoothing if bool((self.label_smoothing > 0).any()) else None

    @torch.no_grad()
    def penalty(self, flat: torch.Tensor, grad: torch.Tensor, n: int) -> torch.Tensor | None:
        """Adds each member's penalty gradient to `grad`; returns the penalties (K,), or None.

        Its gradient is written directly rather than taken by autograd: l1 * sign(w) + 2 * l2 * w,
        what backward of l1 * |w| + l2 * w^2 computes, without a graph through every tensor."""
        if not self.penalized:
            return None
        parts = [(flat[:, :n], grad[:, :n], self.l1, self.l2)]
        if self.penalized_rest:
            zero = torch.zeros_like(self.l1)
            parts.append(
                (
                    flat[:, n:],
                    grad[:, n:],
                    torch.where(self.rest, self.l1, zero),
                    torch.where(self.rest, self.l2, zero),
                )
            )
        total = torch.zeros(flat.shape[0], dtype=flat.dtype, device=flat.device)
        for w, g, l1, l2 in parts:
            total += (l1 * w.abs().sum(1, keepdim=True) + l2 * w.pow(2).sum(1, keepdim=True)).squeeze(1)
            g.addcmul_(w.sign(), l1).addcmul_(w, 2 * l2)
        return total

    @torch.no_grad()
    def clip(self, grad: torch.Tensor) -> None:
        """clip_grad_value_ then clip_grad_norm_, as the trainer applies them, each member its own."""
        if self.clips_value:
            grad.clamp_(min=-self.clip_value, max=self.clip_value)
        if self.clips_norm:
            norm = torch.linalg.vector_norm(grad, dim=1, keepdim=True)
            grad.mul_((self.clip_norm / (norm + 1e-6)).clamp_(max=1.0))
