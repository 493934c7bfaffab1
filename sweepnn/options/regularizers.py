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


@dataclass(frozen=True, kw_only=True)
class PenaltySpec(Spec):
    """One weight penalty: `coefficients(params)` gives (a, b) of a * sum|w| + b * sum w^2, the one statement
    of its formula, read by the trainer and the stacked groups alike."""

    # params -> (a, b): the penalty is a * sum|w| + b * sum w^2. The one statement of its formula:
    # the trainer adds that term to the loss; a stacked group writes its gradient directly.
    coefficients: Callable[[Any], tuple[float, float]]


_STRENGTH = (float, Field(1e-4, ge=0, description="multiplier of the penalty"))

PENALTIES: Registry[PenaltySpec] = Registry(
    "penalty",
    [
        PenaltySpec(name="none", description="no penalty term", coefficients=lambda p: (0.0, 0.0)),
        PenaltySpec(
            name="l1",
            description="strength * sum|w|: drives weights to exactly zero (sparsity)",
            coefficients=lambda p: (p.strength, 0.0),
            fields={"strength": _STRENGTH},
        ),
        PenaltySpec(
            name="l2",
            description="strength * sum w^2: shrinks all weights (ridge)",
            coefficients=lambda p: (0.0, p.strength),
            fields={"strength": _STRENGTH},
        ),
        PenaltySpec(
            name="elastic_net",
            description="alpha * (l1_ratio * sum|w| + (1 - l1_ratio)/2 * sum w^2), as scikit-learn writes it",
            coefficients=lambda p: (p.alpha * p.l1_ratio, p.alpha * 0.5 * (1 - p.l1_ratio)),
            fields={
                "alpha": (float, Field(1e-4, ge=0, description="overall strength")),
                "l1_ratio": (float, Field(0.5, ge=0, le=1, description="share of L1 (1 = lasso, 0 = ridge)")),
            },
        ),
    ],
)


def penalty_term(params: OptionParams, tensors: list[Any]) -> Any | None:
    """a * sum|w| + b * sum w^2 over the tensors, or None when both coefficients are 0 (nothing is
    computed then)."""
    a, b = PENALTIES[params.name].coefficients(params)
    terms = []
    if a:
        terms.append(a * sum(t.abs().sum() for t in tensors))
    if b:
        terms.append(b * sum(t.pow(2).sum() for t in tensors))
    return sum(terms[1:], terms[0]) if terms else None
