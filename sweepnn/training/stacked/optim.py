"""Optimizers of a stacked group (sweepnn.training.stacked.nets): one update for the whole (K, P) buffer.

Members of one group share an optimizer family, and each family has one update:
- sgd: SGD with or without (Nesterov) momentum (plain SGD is momentum 0), a handful of whole-buffer
  operations with the per-member hyperparameters as (K, 1) columns;
- adam: Adam and AdamW, torch's fused CPU kernel (the trainer's) called once per member row;
- torch: any other optimizer, one torch instance per member over views of its rows: the trainer's
  own update and the trainer's own cost per step (no stacked form yet).
Each repeats the arithmetic the trainer's optimizer does, so a member follows the curve it follows
alone up to float rounding.
"""

from __future__ import annotations

import torch

from sweepnn.options.optimizers import OPTIMIZERS, optimizer_kwargs
from sweepnn.training.stacked.rows import Rows, column


def update_of(name: str) -> str:
    """The stacked update that runs an optimizer (its registry entry says): sgd, adam or torch."""
    return OPTIMIZERS[name].stacked


class _Optimizer(Rows):
    def __init__(self, params: list, decay_rest: list[bool], flat: torch.Tensor):
        kw = [optimizer_kwargs(p) for p in params]
        self.lr = torch.tensor([k["lr"] for k in kw], dtype=torch.float64)  # base rates
        self.wd64 = torch.tensor([k.get("weight_decay", 0.0) for k in kw], dtype=torch.float64)
        self.rest = torch.tensor(decay_rest, dtype=torch.float64)  # biases decay too, for this member
        self.kwargs = kw

    def _decay(self, wd64: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(decay of the matrices, decay of the 1-D tensors) as float columns."""
        return column(wd64, like), column(wd64 * self.rest, like)


def _coupled(grad, flat, n: int, wd: torch.Tensor, wd_rest: torch.Tensor, rest_any: bool) -> None:
    """L2 weight decay added to the gradient: matrices always, 1-D tensors for decay_biases members."""
    grad[:, :n].addcmul_(flat[:, :n], wd)
    if rest_any:
        grad[:, n:].addcmul_(flat[:, n:], wd_rest)


class StackedSGD(_Optimizer):
    """torch.optim.SGD: momentum 0 (sgd), heavy ball (momentum) or Nesterov, per member."""

    rows = ("lr", "wd", "wd_rest", "wd64", "rest", "momentum", "nesterov", "buf")

    def __init__(self, params: list, decay_rest: list[bool], flat: torch.Tensor):
        super().__init__(params, decay_rest, flat)
        self.wd, self.wd_rest = self._decay(self.wd64, flat)
        self.momentum = column([k.get("momentum", 0.0) for k in self.kwargs], flat)
        self.nesterov = column([k.get("nesterov", False) for k in self.kwargs], flat, torch.bool)
        # the first step's buffer is the gradient itself: momentum * 0 + g is exactly that
        self.buf = torch.zeros_like(flat) if bool((self.momentum > 0).any()) else None
        self.refresh()

    def refresh(self) -> None:
        self.decays = bool((self.wd64 > 0).any())
        self.rest_any = bool((self.wd64 * self.rest > 0).any())
        self.nesterov_any = bool(self.nesterov.any())
        self.nesterov_all = bool(self.nesterov.all())

    @torch.no_grad()
    def step(self, flat: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor, n_decay: int) -> None:
        """One update of every member; `lr` (K,) in double: this step's learning rates."""
        if self.decays:
            _coupled(grad, flat, n_decay, self.wd, self.wd_rest, self.rest_any)
        d = grad
        if self.buf is not None:
            self.buf.mul_(self.momentum).add_(grad)
            if self.nesterov_all:
                d = grad.addcmul_(self.buf, self.momentum)
            elif self.nesterov_any:
                d = torch.where(self.nesterov, grad + self.buf * self.momentum, self.buf)
            else:
                d = self.buf
        flat.addcmul_(d, column(-lr, flat))


class StackedAdam(_Optimizer):
    """Adam (L2 decay added to the gradient) and AdamW (decoupled decay), per member.

    The trainer runs torch's fused CPU kernel; so does this, once per member on its row of the
    buffer (twice when its matrices decay and its 1-D tensors do not): a kernel call per member is
    far cheaper than the dozen whole-buffer passes the update would take written out, and it is the
    very arithmetic each member gets alone.
    """

    rows = ("lr", "wd64", "rest", "m", "v", "settings")

    def __init__(self, params: list, decay_rest: list[bool], flat: torch.Tensor):
        super().__init__(params, decay_rest, flat)
        self.settings = [
            (OPTIMIZERS[p.name].decoupled_decay, *k["betas"], k["eps"], k.get("weight_decay", 0.0), rest)
            for p, k, rest in zip(params, self.kwargs, decay_rest, strict=True)
        ]
        self.m, self.v = torch.zeros_like(flat), torch.zeros_like(flat)
        # the kernel reads the step count from a tensor, on the parameters' device
        self.steps = torch.zeros((), dtype=torch.float32, device=flat.device)

    def _calls(self, flat: torch.Tensor, grad: torch.Tensor, n_decay: int) -> list:
        """Per member: (kernel, [(tensors, weight decay)]) over views of its rows, made once per
        stack (they are rebuilt only when members leave and the buffers are replaced)."""
        key = (flat.data_ptr(), grad.data_ptr(), self.m.data_ptr(), flat.shape[0])
        if getattr(self, "_key", None) == key:
            return self._cached
        calls = []
        for k, (adamw, _b1, _b2, _eps, wd, rest) in enumerate(self.settings):
            cols = (
                [(slice(None), wd)]
                if rest or wd == 0
                else [(slice(0, n_decay), wd), (slice(n_decay, None), 0.0)]
            )
            parts = [([flat[k, c]], [grad[k, c]], [self.m[k, c]], [self.v[k, c]], decay) for c, decay in cols]
            calls.append((torch._fused_adamw_ if adamw else torch._fused_adam_, parts))
        self._key, self._cached = key, calls
        return calls

    @torch.no_grad()
    def step(self, flat: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor, n_decay: int) -> None:
        self.steps += 1
        steps = [self.steps]
        calls = self._calls(flat, grad, n_decay)
        for rate, (kernel, parts), (_, beta1, beta2, eps, _wd, _rest) in zip(
            lr.tolist(), calls, self.settings, strict=True
        ):
            for p, g, m, v, decay in parts:
                kernel(
                    p,
                    g,
                    m,
                    v,
                    [],
                    steps,
                    lr=rate,
                    beta1=beta1,
                    beta2=beta2,
                    weight_decay=decay,
                    eps=eps,
                    amsgrad=False,
                    maximize=False,
                )


class PerMember(_Optimizer):
    """Any optimizer of the registry, as the trainer builds it (decayed and undecayed groups), one
    instance per member over views of its rows of the buffers."""

    rows = ("lr", "optimizers", "params", "rest_flags")

    def __init__(self, params: list, decay_rest: list[bool], flat: torch.Tensor):
        super().__init__(params, decay_rest, flat)
        self.params = params
        self.rest_flags = decay_rest
        self.optimizers: list = [None] * len(params)  # built at the first step, on the buffers then
        self._key = None

    def select(self, rows: torch.Tensor) -> None:
        super().select(rows)
        self._key = None  # rebind to the new buffers at the next step

    def _bind(self, flat: torch.Tensor, grad: torch.Tensor, n_decay: int) -> None:
        """Point each member's optimizer at its rows of the (new) buffers, keeping its state."""
        from sweepnn.options.optimizers import build_optimizer

        for k, (p, rest) in enumerate(zip(self.params, self.rest_flags, strict=True)):
            views = [flat[k, :n_decay], flat[k, n_decay:]]
            for v, g in zip(views, [grad[k, :n_decay], grad[k, n_decay:]], strict=True):
                v.grad = g
            opt = self.optimizers[k]
            if opt is None:
                groups = [
                    {"params": [views[0]]},
                    {"params": [views[1]], **({} if rest else {"weight_decay": 0.0})},
                ]
                self.optimizers[k] = build_optimizer(p, groups)
                continue
            for group, view in zip(opt.param_groups, views, strict=True):
                old = group["params"][0]
                if old in opt.state:
                    opt.state[view] = opt.state.pop(old)
                group["params"] = [view]
        self._key = (flat.data_ptr(), grad.data_ptr(), flat.shape[0])

    @torch.no_grad()
    def step(self, flat: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor, n_decay: int) -> None:
        if self._key != (flat.data_ptr(), grad.data_ptr(), flat.shape[0]):
            self._bind(flat, grad, n_decay)
        for rate, opt in zip(lr.tolist(), self.optimizers, strict=True):
            for group in opt.param_groups:
                group["lr"] = rate
            opt.step()


# the stacked updates, by the name an optimizer's entry gives (OptimizerSpec.stacked)
UPDATES = {"sgd": StackedSGD, "adam": StackedAdam, "torch": PerMember}


def build_stacked_optimizer(params: list, decay_rest: list[bool], flat: torch.Tensor) -> _Optimizer:
    """The stacked update (sgd, adam or torch) the members' optimizers `params` share, over the (K, P) buffer
    `flat`; `decay_rest[k]`: member k decays its biases too. Differing updates are a ValueError."""
    updates = {update_of(p.name) for p in params}
    if len(updates) != 1:
        raise ValueError(f"members of a group share one stacked update; got {sorted(updates)}")
    return UPDATES[updates.pop()](params, decay_rest, flat)
