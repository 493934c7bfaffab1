"""Weight penalties added to the loss: the explicit form of L1, L2 and elastic-net regularization.

Each term is a pure function of the penalized tensors (weight matrices and kernels; biases and
normalization parameters only with `decay_biases`). Coupled weight decay (an optimizer's
`weight_decay`) and decoupled decay (`adamw`) live with the optimizers instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from sweepnn.registry import OptionParams, Registry, Spec

# term(params, tensors) -> scalar tensor added to the loss
TermFn = Callable[[Any, list[Any]], Any]


@dataclass(frozen=True, kw_only=True)
class PenaltySpec(Spec):
    term: TermFn | None  # None: nothing is added (and nothing computed)


def _l1(ps) -> Any:
    return sum(p.abs().sum() for p in ps)


def _l2(ps) -> Any:
    return sum(p.pow(2).sum() for p in ps)


_STRENGTH = (float, Field(1e-4, ge=0, description="multiplier of the penalty"))

PENALTIES: Registry[PenaltySpec] = Registry(
    "penalty",
    [
        PenaltySpec(name="none", description="no penalty term", term=None),
        PenaltySpec(
            name="l1",
            description="strength * sum|w|: drives weights to exactly zero (sparsity)",
            term=lambda p, ps: p.strength * _l1(ps),
            fields={"strength": _STRENGTH},
        ),
        PenaltySpec(
            name="l2",
            description="strength * sum w^2: shrinks all weights (ridge)",
            term=lambda p, ps: p.strength * _l2(ps),
            fields={"strength": _STRENGTH},
        ),
        PenaltySpec(
            name="elastic_net",
            description="alpha * (l1_ratio * sum|w| + (1 - l1_ratio)/2 * sum w^2), as scikit-learn writes it",
            term=lambda p, ps: p.alpha * (p.l1_ratio * _l1(ps) + 0.5 * (1 - p.l1_ratio) * _l2(ps)),
            fields={
                "alpha": (float, Field(1e-4, ge=0, description="overall strength")),
                "l1_ratio": (float, Field(0.5, ge=0, le=1, description="share of L1 (1 = lasso, 0 = ridge)")),
            },
        ),
    ],
)


def penalty_term(params: OptionParams, tensors: list[Any]) -> Any | None:
    """The penalty to add to the loss, or None when there is none."""
    term = PENALTIES[params.name].term
    return None if term is None else term(params, tensors)
