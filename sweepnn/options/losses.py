"""Loss functions, and the task each serves. By default a recipe takes its dataset's task's loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from sweepnn.registry import Registry, Spec

Task = Literal["classification", "regression"]
# fn(params, outputs, targets, label_smoothing) -> mean loss over the batch
LossFn = Callable[[Any, Any, Any, float], Any]


@dataclass(frozen=True, kw_only=True)
class LossSpec(Spec):
    """One loss: `fn` is the batch mean the trainer minimizes, `per_example` the unreduced form a stacked
    group needs (None keeps the loss out of groups); `task` is the task it serves."""

    task: Task | None  # None: a user's loss, for any task
    fn: LossFn
    # fn(params, outputs, targets) -> the loss of each example, unreduced: what a stacked group
    # needs to give each member its own mean. None: the loss has no such form and is not stacked.
    per_example: Callable[[Any, Any, Any], Any] | None = None


def _cross_entropy(p, out, y, smoothing):
    import torch.nn.functional as F

    return F.cross_entropy(out, y, label_smoothing=smoothing)


def _mse(p, out, y, smoothing):
    import torch.nn.functional as F

    return F.mse_loss(out, y)


def _huber(p, out, y, smoothing):
    import torch.nn.functional as F

    return F.huber_loss(out, y, delta=p.delta)


def _each(name: str, **fixed):
    """torch.nn.functional's loss `name` per example (reduction none), with the entry's keywords."""

    def per_example(p, out, y):
        import torch.nn.functional as F

        kwargs = {k: getattr(p, k) for k in fixed}
        return getattr(F, name)(out, y, reduction="none", **kwargs)

    return per_example


LOSSES: Registry[LossSpec] = Registry(
    "loss",
    [
        LossSpec(
            name="cross_entropy",
            description="softmax cross-entropy (classification)",
            task="classification",
            fn=_cross_entropy,
            per_example=_each("cross_entropy"),
        ),
        LossSpec(
            name="mse",
            description="mean squared error (regression)",
            task="regression",
            fn=_mse,
            per_example=_each("mse_loss"),
        ),
        LossSpec(
            name="huber",
            description="squared below delta, linear above: robust to outliers (regression)",
            task="regression",
            fn=_huber,
            per_example=_each("huber_loss", delta=True),
            fields={"delta": (float, Field(1.0, gt=0, description="where squared turns linear"))},
        ),
    ],
)

DEFAULT_LOSS: dict[str, str] = {"classification": "cross_entropy", "regression": "mse"}


def _own_loss(registry, name: str, obj: Any) -> LossSpec:
    """A user's loss: a function `loss(outputs, targets, **params)` whose keywords are the option's
    fields, or a torch.nn loss class (`torch.nn:SmoothL1Loss`) whose constructor's are. Label smoothing
    is the built-in cross-entropy's; a user's loss does its own."""
    import inspect

    from sweepnn.errors import InputError
    from sweepnn.options.own import description_of, signature_fields
    from sweepnn.options.users_code import call

    label = f"loss {name!r}"
    if not callable(obj):
        raise InputError(f"{label} names {type(obj).__name__} {obj!r}, not a class or function")
    if inspect.isclass(obj):
        fields = signature_fields(obj, label, skip=set())

        last: list[Any] = [None, None, None]  # (params, device, module): built once per trial setting

        def fn(p, out, y, smoothing):
            if last[0] is not p or last[1] != out.device:  # an identity check per step, not a dump
                made = call(f"building {label}", obj, **{k: getattr(p, k) for k in fields})
                last[:] = [p, out.device, made.to(out.device) if hasattr(made, "to") else made]
            return call(label, last[2], out, y)
    else:
        params = list(inspect.signature(obj).parameters)
        if len(params) < 2:
            raise InputError(
                f"{label}: a loss function takes (outputs, targets, ...), {obj!r} takes {params}"
            )
        fields = signature_fields(obj, label, skip=set(params[:2]))

        def fn(p, out, y, smoothing):
            return call(label, obj, out, y, **{k: getattr(p, k) for k in fields})

    return LossSpec(
        name=name,
        description=description_of(obj, f"your loss {name}"),
        task=getattr(obj, "task", None),
        fn=fn,
        fields=fields,
    )


def _open() -> None:
    from sweepnn.options.own import open_family

    open_family(LOSSES, "sweepnn.losses", _own_loss)


_open()
