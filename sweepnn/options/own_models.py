"""A user's own network as a model option: a factory named by import path (`model: {name: "nets:resnet",
depth: 20}`) or registered by an installed package (entry-point group `sweepnn.models`).

The techniques a recipe switches apply to it as to the built-ins:
- `init`: every weight layer found by type is initialized by the chosen scheme, with the gain of the
  activation the network uses (sweepnn.options.layers.initialize); left out, the network keeps the
  weights its factory gave it.
- `activation` and `norm`: handed to the factory when its signature takes them (as module factories:
  `activation()`, `norm(num_features)`); otherwise swapped into the built network by module surgery,
  every module of a known activation class, every normalization layer (`none` becomes Identity).
- any other keyword of the factory (`depth`, `width`, `dropout`) is a typed field of the option.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

import sweepnn.options.layers as layers
from sweepnn.errors import InputError
from sweepnn.options.activations import ACTIVATIONS, activation_gain, build_activation
from sweepnn.options.inits import INITS
from sweepnn.options.models import MODELS, ModelSpec
from sweepnn.options.norms import NORMS, build_norm
from sweepnn.options.own import DATA_PARAMETERS, declared_check, description_of, open_family, signature_fields
from sweepnn.options.users_code import call
from sweepnn.registry import Registry

if TYPE_CHECKING:
    from torch import nn

# The techniques every own model has as fields, whether or not its factory takes them.
TECHNIQUES = ("activation", "norm", "init")


@dataclass(frozen=True)
class ActivationFactory:
    """What a factory's `activation` parameter receives: call it for a fresh activation module."""

    params: Any

    def __call__(self) -> nn.Module:
        return build_activation(self.params)


@dataclass(frozen=True)
class NormFactory:
    """What a factory's `norm` parameter receives: `norm(num_features)` is a fresh normalization layer
    over that many features or channels (an Identity for `none`); `dims` is the input's spatial
    dimensions (0 after a Linear, 2 after a Conv2d), by default those of the factory's own default."""

    params: Any
    dims: int

    def __call__(self, num_features: int, dims: int | None = None) -> nn.Module:
        from torch import nn

        built = build_norm(self.params, num_features, self.dims if dims is None else dims)
        return built if built is not None else nn.Identity()


@dataclass(frozen=True, kw_only=True)
class OwnModelSpec(ModelSpec):
    """A user's model: `takes` says which of activation and norm its factory takes itself (the others
    are swapped into the built network)."""

    takes: frozenset[str] = frozenset()


def _default_option(registry: Registry, default: Any, by: str) -> Any:
    """The option a factory's default for `activation`/`norm` is (nn.ReLU -> relu), or None."""
    cls = default if isinstance(default, type) else type(default) if default is not None else None
    for name, spec in registry.builtins.items():
        if cls is not None and getattr(spec, by, None) == cls.__name__:
            return registry.parse(name)
    return None


def _norm_dims(default: Any) -> int:
    """The spatial dimensions a factory's default norm class says its inputs have: 0 for LayerNorm
    (features), d for BatchNorm{d}d (BatchNorm1d serves after a Linear and after a Conv1d alike, and so
    does what 1 builds: BatchNorm1d, or GroupNorm for layernorm), 2 otherwise (images)."""
    name = default.__name__ if isinstance(default, type) else type(default).__name__
    if name in ("LayerNorm", "RMSNorm"):
        return 0
    if name.startswith(("BatchNorm", "InstanceNorm")) and name[-2].isdigit():
        return int(name[-2])
    return 2


def _model_spec(registry: Registry, name: str, factory: Any) -> OwnModelSpec:
    label = f"model {name!r}"
    if not callable(factory):
        raise InputError(f"{label} names {type(factory).__name__} {factory!r}, not a class or function")
    sig = inspect.signature(factory)
    takes = {t for t in ("activation", "norm") if t in sig.parameters}
    if "init" in sig.parameters:
        raise InputError(f"{label}: its parameter 'init' clashes with sweepnn's init option; rename it")
    data_args = {p for p in sig.parameters if p in DATA_PARAMETERS}
    fields = signature_fields(factory, label, skip=set(TECHNIQUES) | data_args)
    default = {t: sig.parameters[t].default for t in takes}
    act_default = _default_option(ACTIVATIONS, default.get("activation"), "torch_class")
    norm_default = _default_option(NORMS, default.get("norm"), "torch_class") or (
        _default_option(NORMS, default.get("norm"), "conv_class")
    )
    # a factory that takes activation or norm without a default needs the recipe to say which
    required = {t for t in takes if default[t] is inspect.Parameter.empty}
    fields |= {
        "activation": (
            ACTIVATIONS.type | None,
            Field(
                ... if "activation" in required else act_default,
                description="the activation (null: as the model is built)",
            ),
        ),
        "norm": (
            NORMS.type | None,
            Field(
                ... if "norm" in required else norm_default,
                description="the normalization (null: as the model is built)",
            ),
        ),
        "init": (
            INITS.type | None,
            Field(None, description="weight initialization (null: the weights the model is built with)"),
        ),
    }
    norm_dims = _norm_dims(default["norm"]) if "norm" in takes else 2

    def build(p, input_shape: tuple[int, ...], n_out: int) -> nn.Module:
        from torch import nn

        kwargs = {k: getattr(p, k) for k in fields if k not in TECHNIQUES}
        kwargs |= {k: DATA_PARAMETERS[k](input_shape, n_out) for k in data_args}
        if "activation" in takes and p.activation is not None:
            kwargs["activation"] = ActivationFactory(p.activation)
        if "norm" in takes and p.norm is not None:
            kwargs["norm"] = NormFactory(p.norm, norm_dims)
        model = call(f"building {label}", factory, **kwargs)
        if not isinstance(model, nn.Module):
            raise InputError(f"{label} returned {type(model).__name__}, not a torch.nn.Module")
        call(f"running {label} once to build its lazy modules", layers.materialize, model, input_shape)
        changes = []
        if "activation" not in takes and p.activation is not None:
            found = layers.swap_activations(model, p.activation)
            if not found:
                raise InputError(
                    f"{label} has no activation module to swap for {p.activation.name} (it may call"
                    " torch.nn.functional in forward); give its factory an `activation` parameter"
                )
            changes.append(f"{found} activation modules -> {p.activation.name}")
        if "norm" not in takes and p.norm is not None:
            found = call(
                f"swapping the norm layers of {label}", layers.swap_norms, model, p.norm, input_shape
            )
            if not found and p.norm.name != "none":  # none asks for what a norm-free network has
                raise InputError(
                    f"{label} has no normalization layer to swap for {p.norm.name};"
                    " give its factory a `norm` parameter"
                )
            if found:
                changes.append(f"{found} norm layers -> {p.norm.name}")
        if p.init is not None:
            act = p.activation or layers.used_activation(model) or ACTIVATIONS.parse("relu")
            layers.initialize(model, p.init, activation_gain(act))
            changes.append(f"{len(layers.weight_modules(model))} weight layers -> {p.init.name}")
        model.sweepnn_changes = changes  # what sweepnn changed in the built network, for the record
        return model

    return OwnModelSpec(
        name=name,
        description=description_of(factory, f"your model {name}"),
        build=build,
        fields=fields,
        check=declared_check(factory),
        takes=frozenset(takes),
    )


open_family(MODELS, "sweepnn.models", _model_spec)


def nothing_to_swap(
    spec: ModelSpec, p, input_shape: tuple[int, ...], n_out: int, searched: set[str]
) -> list[str]:
    """The searched techniques (`activation`, `norm`) an own model has nothing to swap for: its factory
    does not take them and the network as its factory builds it has no module of the kind. Empty for
    the built-ins."""
    if not isinstance(spec, OwnModelSpec) or not (searched - spec.takes) & {"activation", "norm"}:
        return []
    as_built = spec.build(
        p.model_copy(update={"activation": None, "norm": None, "init": None}), input_shape, n_out
    )
    count = {
        "activation": len(layers.activation_modules(as_built)),
        "norm": len(layers.norm_modules(as_built)),
    }
    return [t for t in ("activation", "norm") if t in searched and t not in spec.takes and not count[t]]
