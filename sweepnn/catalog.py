"""Every option family by name: for `sweepnn options`, the docs and registry-driven tests."""

from __future__ import annotations

from sweepnn.datasets import DATASETS
from sweepnn.errors import UnknownOptionError, choices_text, did_you_mean
from sweepnn.options.activations import ACTIVATIONS
from sweepnn.options.augment import AUGMENTATIONS
from sweepnn.options.inits import INITS
from sweepnn.options.losses import LOSSES
from sweepnn.options.metrics import METRICS
from sweepnn.options.models import MODELS
from sweepnn.options.norms import NORMS
from sweepnn.options.optimizers import OPTIMIZERS
from sweepnn.options.regularizers import PENALTIES
from sweepnn.options.scalers import SCALERS
from sweepnn.options.schedules import SCHEDULES, WARMUPS
from sweepnn.options.search import PRUNERS, SAMPLERS
from sweepnn.registry import Registry

FAMILIES: dict[str, Registry] = {
    r.family: r
    for r in (
        DATASETS,
        MODELS,
        INITS,
        ACTIVATIONS,
        NORMS,
        OPTIMIZERS,
        SCHEDULES,
        WARMUPS,
        PENALTIES,
        SCALERS,
        AUGMENTATIONS,
        LOSSES,
        METRICS,
        SAMPLERS,
        PRUNERS,
    )
}


def family(name: str) -> Registry:
    key = name.lower().rstrip("s") if name.lower() not in FAMILIES else name.lower()
    if key not in FAMILIES:
        raise UnknownOptionError(
            f"unknown option family {name!r};{did_you_mean(name, FAMILIES)} valid: {choices_text(FAMILIES)}"
        )
    return FAMILIES[key]


def default_text(value) -> str:
    if isinstance(value, dict):  # a nested option: its name
        return str(value.get("name"))
    return repr(value) if isinstance(value, str) else str(value)


def reference_markdown() -> str:
    """The option reference as Markdown: the README's copy is checked against this by a test."""
    lines = []
    for reg in FAMILIES.values():
        lines += [
            f"**{reg.family}** ({len(reg)})",
            "",
            "| name | parameters (defaults) | description |",
            "| --- | --- | --- |",
        ]
        for name, spec in reg.items():
            params = ", ".join(f"`{k}={default_text(v)}`" for k, v in spec.defaults().items())
            lines.append(f"| `{name}` | {params} | {spec.description} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
