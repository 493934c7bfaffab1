"""Trained weights kept on disk: safetensors files (plain tensors and a JSON header, nothing to
unpickle) beside the recipe that trained them, and `load_model`, which rebuilds the network from that
recipe and loads them.

Which trials are kept is known only when the sweep ends, and the trials may be trained by several
processes; so each process writes the weights of a trial that could be among the best into
`results/<study>/models/.staging/` as it finishes (`stage`), and whoever writes the result files keeps
the best `search.save_top` of them as `models/trial-<n>/` and removes the rest (`keep`). Every file is
written to a temporary name and renamed (sweepnn.atomic), so a crash leaves no half-written one.

A staged file carries what only the training process knows in its header: the trial, its objective
values, the input shape, output count and task, the seed of the weights and the versions that trained
it. A staged or kept file whose values are not its trial's in the study (left by a study that was
deleted, or by another storage) is never kept for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sweepnn.atomic import atomic_write, ordinary_mode, replacing
from sweepnn.errors import SweepnnError

MODELS = "models"  # under results/<study>/
STAGING = ".staging"  # under models/: weights of trials that may be kept, until the results are written
WEIGHTS, RECIPE, CARD = "model.safetensors", "recipe.yaml", "model.json"
HEADER = "sweepnn"  # the safetensors metadata key holding the training process's record (JSON)
STALE_TEMP_S = 3600.0  # a temporary staging file this old is a killed writer's (a write takes seconds)

_STAGED = re.compile(r"trial-(\d+)\.safetensors")
_KEPT = re.compile(r"trial-(\d+)")


def staging_folder(study_folder: Path) -> Path:
    """Where trials' weights wait, written by the processes that trained them, until the result files
    keep the best: results/<study>/models/.staging/."""
    return study_folder / MODELS / STAGING


def tensors_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state as safetensors stores it: on the CPU, contiguous (a channels_last kernel is
    not), each tensor its own (tied weights share storage, which safetensors refuses)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def stage(study_folder: Path, number: int, model: torch.nn.Module, info: dict[str, Any]) -> Path:
    """Write trial `number`'s weights into the staging folder, whole or not at all; `info` (JSON) is
    what the training process records with them (see `training_info`)."""
    from safetensors.torch import save_file

    path = staging_folder(study_folder) / f"trial-{number}.safetensors"
    tensors, metadata = tensors_of(model), {HEADER: json.dumps({"trial": number, **info})}
    tries = 3
    while True:
        try:
            with replacing(path) as tmp:
                save_file(tensors, str(tmp), metadata=metadata)
                os.chmod(tmp, ordinary_mode())  # safetensors makes the file anew, 0600 like a mkstemp one
            return path
        except FileNotFoundError:  # the writer of the results removed the empty folder as it was made
            tries -= 1
            if not tries:
                raise


def training_info(values: list[float], data, seed: int) -> dict[str, Any]:
    """What the process that trained a trial knows of its weights: the trial's objective values, the
    network's input shape, output count and task (`data`: sweepnn.training.data.Data), the seed and the
    versions."""
    from sweepnn import __version__

    return {
        "values": [float(v) for v in values],
        "input_shape": list(data.input_shape),
        "n_outputs": data.n_outputs,
        "task": data.task,
        "seed": seed,
        "sweepnn": __version__,
        "torch": torch.__version__,
    }


def header(path: Path) -> dict[str, Any] | None:
    """The training record in a weights file's header, or None when it has none or cannot be read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads((f.metadata() or {})[HEADER])
    except Exception:  # a file that is not ours, or not whole: it has no record
        return None


@dataclass(frozen=True)
class Kept:
    """A trial to keep: its number and objective values (as the study records them), its recipe as
    YAML, and what model.json says of it besides the training record."""

    number: int
    values: list[float]
    recipe: str
    card: dict[str, Any]


def keep(study_folder: Path, best: list[Kept], finished: set[int]) -> list[Path]:
    """Make `models/` hold exactly the `best` trials whose weights are on disk (staged, or kept by an
    earlier write); remove the staged weights of the `finished` trials that are not among them. A trial
    not finished yet keeps its staged file: it may be written by another process as this one reads.
    Returns the folders kept, best first."""
    models = study_folder / MODELS
    staging = models / STAGING
    if not models.is_dir():
        return []
    wanted = {k.number for k in best}
    out = []
    for k in best:
        folder = models / f"trial-{k.number}"
        if _keep_one(folder, staging / f"trial-{k.number}.safetensors", k):
            out.append(folder)
    for entry in models.iterdir():
        m = _KEPT.fullmatch(entry.name)
        if m and entry.is_dir() and int(m.group(1)) not in wanted:
            shutil.rmtree(entry, ignore_errors=True)  # fell out of the best
    if staging.is_dir():
        now = time.time()
        for entry in staging.iterdir():
            m = _STAGED.fullmatch(entry.name)
            if m:  # a finished trial that is not among the best: its weights are not kept
                drop = int(m.group(1)) in finished and int(m.group(1)) not in wanted
            else:  # a temporary file that old is a killed writer's
                drop = entry.name.endswith(".tmp") and _age(entry, now) > STALE_TEMP_S
            if drop:
                entry.unlink(missing_ok=True)
        _remove_if_empty(staging)
    _remove_if_empty(models)
    return out


def _keep_one(folder: Path, staged: Path, k: Kept) -> bool:
    """Trial k's folder made whole from its kept or staged weights; False when it has neither."""
    weights = folder / WEIGHTS
    if _matches(weights, k):
        if not (folder / CARD).exists() or not (folder / RECIPE).exists():  # cut short between files
            _write_texts(folder, k, header(weights))
        staged.unlink(missing_ok=True)  # a second copy (two writers of one study): the kept one stands
        return True
    if not _matches(staged, k):
        # what is there was left by another study of this name (deleted, or in another storage)
        staged.unlink(missing_ok=True)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        return False
    if folder.exists():
        shutil.rmtree(folder)
    # the recipe and card first, the weights last: a folder with its weights is a whole one
    _write_texts(folder, k, header(staged))
    try:
        os.replace(staged, weights)
    except FileNotFoundError:  # another writer of the same study moved it meanwhile
        return weights.exists()
    return True


def _matches(path: Path, k: Kept) -> bool:
    if not path.is_file():
        return False
    info = header(path)
    return info is not None and info.get("trial") == k.number and info.get("values") == k.values


def _write_texts(folder: Path, k: Kept, info: dict[str, Any] | None) -> None:
    trained = {key: v for key, v in (info or {}).items() if key not in ("trial", "values")}
    card = {"trial": k.number, **k.card, **trained}
    atomic_write(folder / RECIPE, k.recipe)
    atomic_write(folder / CARD, json.dumps(card, indent=2) + "\n")


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (or gone): kept
        folder.rmdir()


def discard(study_folder: Path) -> None:
    """Remove every kept and staged model of a study (its study was discarded: `--fresh`)."""
    shutil.rmtree(study_folder / MODELS, ignore_errors=True)


# ---- loading ---------------------------------------------------------------------------------------


def load_model(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The network of a kept trial, rebuilt from its recipe, with its trained weights, in eval mode.

    `path` is the trial's folder (results/<study>/models/trial-<n>/) or its model.safetensors. The
    weights are read without unpickling and must fit the rebuilt network exactly (strict). A model
    factory of the user's own, named by import path, is found in the folder the recipe came from
    (recorded in model.json) while that folder exists."""
    from safetensors.torch import load_file

    from sweepnn.options.models import MODELS as ARCHITECTURES
    from sweepnn.options.own import add_code_folder
    from sweepnn.recipe.loading import load_text

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    files = {name: folder / name for name in (WEIGHTS, RECIPE, CARD)}
    missing = [name for name, p in files.items() if not p.is_file()]
    if missing:
        raise SweepnnError(
            f"{folder} is not a kept trial: {', '.join(missing)} missing (a kept trial's folder is"
            " results/<study>/models/trial-<n>/)"
        )
    try:
        card = json.loads(files[CARD].read_text(encoding="utf-8"))
        input_shape, n_outputs = tuple(int(d) for d in card["input_shape"]), int(card["n_outputs"])
    except (ValueError, KeyError, TypeError) as e:
        raise SweepnnError(
            f"{files[CARD]}: not a model card sweepnn wrote ({type(e).__name__}: {e})"
        ) from None
    code = card.get("recipe_folder")
    if code and Path(code).is_dir():
        add_code_folder(code)
    cfg = load_text(files[RECIPE].read_text(encoding="utf-8"), str(files[RECIPE]))
    with torch.random.fork_rng(devices=[]):  # building initializes: the caller's random state is its own
        model = ARCHITECTURES[cfg.model.name].build(cfg.model, input_shape, n_outputs)
    model.load_state_dict(load_file(str(files[WEIGHTS])), strict=True)
    return model.to(device).eval()
