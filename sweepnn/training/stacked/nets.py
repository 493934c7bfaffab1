"""K same-shaped MLPs as one stacked network: every parameter carries a leading member axis.

Each member is first built exactly as `train()` builds it (its own seed, its own initialization),
then its tensors are copied into one flat (K, P) buffer; the layers' weights are views of that
buffer, so the forward pass is a batched matmul per layer (`torch.baddbmm`; faster here than
torch.func.vmap over functional_call or einsum, see bench/groups.py --forward), the backward writes
every gradient into one (K, P) buffer of the same layout, and the optimizers (sweepnn.training.stacked.optim)
update all members on those two buffers.

The buffer holds the weight matrices first (columns :n_decay) and the 1-D tensors (biases,
normalization scale and shift) after them: weight decay, penalties and the diagnostics address
the matrices as one slice. Members leave the stack (`select`) when they diverge or are pruned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sweepnn.options.activations import build_activation
from sweepnn.options.models import hidden_widths


@dataclass(frozen=True)
class Slot:
    """One tensor of every member: the `attr` of its `layer`-th stateful module, at columns
    start:stop of the flat buffer."""

    layer: int
    attr: str
    shape: tuple[int, ...]
    start: int
    stop: int


def stateful(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of the modules holding parameters or buffers, in order: linears and norms."""
    return [
        (name, m)
        for name, m in model.named_children()
        if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))
    ]


def linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(K, B, in) @ (K, out, in)^T + (K, out). A narrow output layer (a few classes) is computed
    transposed, W @ h^T: MKL's batched kernel is 2-3x faster with 10 rows than with 10 columns."""
    if w.shape[1] < NARROW:
        return torch.baddbmm(b.unsqueeze(2), w, h.transpose(1, 2)).transpose(1, 2).contiguous()
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


NARROW = 32  # output layers narrower than this take the transposed product


class _Linear(torch.autograd.Function):
    """h @ W^T + b for every member. Backward writes the weight and bias gradients straight into
    their columns of the group's gradient buffer: no autograd accumulation, no copies.

    `into` carries what autograd must not see as inputs: those gradient columns; the reused buffers
    the output and the input's gradient are written to (a fresh (K, B, width) tensor each step costs
    page faults on top of the writing); and with `relu_in`, h is a ReLU's output that autograd never
    saw (applied in place, StackedMLP.forward), whose mask the input's gradient takes here, in place."""

    @staticmethod
    def forward(ctx, h, w, b, into):
        _, _, out, _, last, _ = into
        ctx.save_for_backward(h, w)
        ctx.into = into
        if last:
            return linear(h, w, b)
        return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), out=out.detach())

    @staticmethod
    def backward(ctx, g):
        h, w = ctx.saved_tensors
        grad_w, grad_b, _, grad_h, _, relu_in = ctx.into
        torch.bmm(g.transpose(1, 2), h, out=grad_w)
        torch.sum(g, dim=1, out=grad_b)
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        grad_h = torch.bmm(g, w, out=grad_h.detach())
        if relu_in:  # what ReLU's backward computes, written over grad_h
            torch.ops.aten.threshold_backward.grad_input(grad_h, h, 0, grad_input=grad_h)
        return grad_h, None, None, None


# activations whose in-place form autograd can differentiate (from their output): one less
# (K, B, width) tensor to allocate and write per layer
IN_PLACE = (nn.ReLU, nn.LeakyReLU, nn.ELU)


class StackedMLP:
    """The members' MLPs (sweepnn.options.models.build_mlp, one architecture) as one network of K members."""

    def __init__(self, p, members: list[nn.Module], dropout: list[list[float]], gen: torch.Generator):
        self.p = p
        self.depth = len(hidden_widths(p))
        self.norm = p.norm.name
        self.norm_first = p.norm_position == "before"
        # a norm module holds state (and so has a stateful index) unless it is a layernorm without affine
        self.norm_module = self.norm == "batchnorm" or (self.norm == "layernorm" and p.norm.affine)
        self.act = build_activation(p.activation)
        if isinstance(self.act, IN_PLACE):
            self.act.inplace = True
        # ReLU straight into the next linear (no norm, no dropout between) folds into it (_Linear)
        self.fold_relu = type(self.act) is nn.ReLU and self.norm == "none"
        self.gen = gen  # dropout masks: one generator for the group (see sweepnn.training.stacked.train)
        self.names = [[name for name, _ in stateful(m)] for m in members]
        mods = [[m for _, m in stateful(model)] for model in members]
        self.linears = {j for j, m in enumerate(mods[0]) if isinstance(m, nn.Linear)}
        tensors = [(j, a, t) for j, m in enumerate(mods[0]) for a, t in m.named_parameters(recurse=False)]
        tensors.sort(key=lambda e: e[2].dim() < 2)  # matrices first (a stable sort keeps layer order)
        self.slots: list[Slot] = []
        start = 0
        for j, a, t in tensors:
            self.slots.append(Slot(j, a, tuple(t.shape), start, start + t.numel()))
            start += t.numel()
        self.n_decay = sum(s.stop - s.start for s in self.slots if len(s.shape) >= 2)
        device = tensors[0][2].device
        with torch.no_grad():
            self.flat = torch.stack(
                [torch.cat([getattr(ms[s.layer], s.attr).reshape(-1) for s in self.slots]) for ms in mods]
            )
            # batch normalization's running statistics, per layer: (K, width) each
            self.buffers = {
                (j, b): torch.stack([getattr(ms[j], b) for ms in mods]).clone()
                for j, m in enumerate(mods[0])
                for b, _ in m.named_buffers(recurse=False)
                if b != "num_batches_tracked"
            }
        self.batches = 0  # num_batches_tracked, the same for every member
        self.grad = torch.zeros_like(self.flat)
        self.scratch: dict[tuple, torch.Tensor] = {}
        # keep probability per member and hidden layer; None where no member drops anything
        keep = 1.0 - torch.tensor(dropout, dtype=self.flat.dtype, device=device)
        self.keep = [
            keep[:, j].view(-1, 1, 1) if bool((keep[:, j] < 1).any()) else None for j in range(self.depth)
        ]
        self._views()

    def _views(self) -> None:
        """Leaf tensors aliasing the flat buffer: the optimizers' in-place updates are what they see."""
        self.params = [self.flat[:, s.start : s.stop].view(-1, *s.shape).requires_grad_() for s in self.slots]
        self.grads = [self.grad[:, s.start : s.stop].view(-1, *s.shape) for s in self.slots]
        self.by_name = {(s.layer, s.attr): t for s, t in zip(self.slots, self.params, strict=True)}
        self.grad_of = {(s.layer, s.attr): g for s, g in zip(self.slots, self.grads, strict=True)}
        self.weight_slots = [s for s in self.slots if len(s.shape) >= 2]
        # normalization parameters take their gradients from autograd (see backward)
        self.norm_params = [
            (t, self.grad_of[key]) for key, t in self.by_name.items() if key[0] not in self.linears
        ]

    @property
    def size(self) -> int:
        return self.flat.shape[0]

    def select(self, rows: torch.Tensor, names: list[list[str]]) -> None:
        """Keep only these members (stack rows), in this order."""
        with torch.no_grad():
            self.flat = self.flat[rows]
            self.grad = self.grad[rows]
            self.buffers = {k: v[rows] for k, v in self.buffers.items()}
            self.keep = [None if k is None else k[rows] for k in self.keep]
        self.names = names
        self.scratch = {}
        self._views()

    # -- forward -----------------------------------------------------------------------------------

    def _scratch(self, key: tuple, shape: tuple[int, ...]) -> torch.Tensor:
        """A buffer kept across steps (one per layer, role and shape)."""
        buf = self.scratch.get((*key, shape))
        if buf is None:
            buf = self.scratch[(*key, shape)] = self.flat.new_empty(shape)
        return buf

    def _linear(self, j: int, h: torch.Tensor, last: bool = False, relu_in: bool = False) -> torch.Tensor:
        """Linear layer j (the j-th stateful module counting linears and norms alike)."""
        w, b = self.by_name[(j, "weight")], self.by_name[(j, "bias")]
        shape = (*h.shape[:2], w.shape[1])
        if torch.is_grad_enabled():
            out, grad_h = self._scratch(("out", j), shape), self._scratch(("grad", j), h.shape)
            into = (self.grad_of[(j, "weight")], self.grad_of[(j, "bias")], out, grad_h, last, relu_in)
            return _Linear.apply(h, w, b, into)
        if last:
            return linear(h, w, b)
        return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), out=self._scratch(("out", j), shape))

    def backward(self, loss: torch.Tensor) -> None:
        """Every member's gradients into `grad`: of `loss`, the sum of the members' losses."""
        loss.backward()
        for t, g in self.norm_params:
            g.copy_(t.grad)
            t.grad = None

    def _normalize(self, j: int, h: torch.Tensor, training: bool) -> torch.Tensor:
        p = self.p.norm
        if self.norm == "layernorm":
            h = F.layer_norm(h, h.shape[-1:], eps=p.eps)
        elif training:  # batchnorm: each member's statistics over its own batch
            var, mean = torch.var_mean(h, dim=1, keepdim=True, correction=0)
            with torch.no_grad():
                n = h.shape[1]
                rm, rv = self.buffers[(j, "running_mean")], self.buffers[(j, "running_var")]
                rm.mul_(1 - p.momentum).add_(mean.squeeze(1), alpha=p.momentum)
                rv.mul_(1 - p.momentum).add_(var.squeeze(1) * (n / max(n - 1, 1)), alpha=p.momentum)
            h = (h - mean) * torch.rsqrt(var + p.eps)
        else:
            rm, rv = self.buffers[(j, "running_mean")], self.buffers[(j, "running_var")]
            h = (h - rm.unsqueeze(1)) * torch.rsqrt(rv.unsqueeze(1) + p.eps)
        if p.affine:
            h = torch.addcmul(
                self.by_name[(j, "bias")].unsqueeze(1), h, self.by_name[(j, "weight")].unsqueeze(1)
            )
        return h

    def dropout(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """As nn.Dropout, each member at its own rate: zero with probability 1 - keep, scale the rest
        by 1 / keep (a member at rate 0 is multiplied by exactly 1)."""
        keep = self.keep[layer]
        noise = torch.rand(h.shape, generator=self.gen, device=h.device, dtype=h.dtype)
        return h * ((noise < keep).to(h.dtype) / keep)

    def forward(self, x: torch.Tensor, training: bool, watch: list | None = None) -> torch.Tensor:
        """(K, B, ...) inputs -> (K, B, outputs). `watch` collects each activation's output."""
        h = x.flatten(2)
        j = 0  # stateful module index: a linear, then its norm when there is one
        folded = False  # is h a ReLU output that the next linear differentiates (see _Linear)?
        for layer in range(self.depth):
            h = self._linear(j, h, relu_in=folded)
            j += 1
            has_norm = self.norm != "none"
            if has_norm and self.norm_first:
                h = self._normalize(j, h, training)
            folded = self.fold_relu and torch.is_grad_enabled() and (not training or self.keep[layer] is None)
            if folded:
                with torch.no_grad():
                    h.relu_()
            else:
                h = self.act(h)
            if watch is not None:
                watch.append(h.detach())
            if has_norm and not self.norm_first:
                h = self._normalize(j, h, training)
            j += self.norm_module
            if training and self.keep[layer] is not None:
                h = self.dropout(layer, h)
        if training and self.norm == "batchnorm":
            self.batches += 1
        return self._linear(j, h, last=True, relu_in=folded)

    # -- members -----------------------------------------------------------------------------------

    def member_state(self, row: int) -> dict[str, torch.Tensor]:
        """A member's state_dict, keyed as its own nn.Sequential keys it."""
        names = self.names[row]
        state = {
            f"{names[s.layer]}.{s.attr}": self.flat[row, s.start : s.stop].view(s.shape).detach().clone()
            for s in self.slots
        }
        for (j, b), v in self.buffers.items():
            state[f"{names[j]}.{b}"] = v[row].clone()
            if b == "running_mean":
                state[f"{names[j]}.num_batches_tracked"] = torch.tensor(self.batches)
        return state

    def weight_norms(self, flat: torch.Tensor) -> torch.Tensor:
        """(K, layers): the norm of each weight matrix of each member in a (K, P) buffer like `flat`."""
        return torch.stack(
            [torch.linalg.vector_norm(flat[:, s.start : s.stop], dim=1) for s in self.weight_slots], dim=1
        )


def check_stackable(members: list[nn.Module]) -> None:
    """Every member has the same tensors in the same shapes (what stacking needs)."""
    ref = [(a, tuple(t.shape)) for _, m in stateful(members[0]) for a, t in m.named_parameters(recurse=False)]
    for k, model in enumerate(members[1:], 1):
        got = [(a, tuple(t.shape)) for _, m in stateful(model) for a, t in m.named_parameters(recurse=False)]
        if got != ref:
            raise ValueError(f"member {k} has tensors {got}, member 0 {ref}: they cannot be stacked")
