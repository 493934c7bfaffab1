"""TensorBoard: a run folder per trial under results/<study>/tensorboard/ (trial-0000, trial-0001, ...),
so TensorBoard's run selector lists the trials. Each holds one event file: every epoch's metrics as
scalars under their own names (val_accuracy, train_loss; step = epoch), the trial's value of each
objective as `objective/<metric>` (with seed repeats the mean over the seeds, where the curves are the
first seed's), and its searched values as hparams (the HParams tab reads each scalar's last value).

Written with torch's SummaryWriter (TensorBoard's own format, no TensorFlow), and the hparams
plugin's summaries. A trial's folder is written whole in a folder beside it, then renamed into
place: a folder there is a trial written to its end. Its `sweepnn-trial.json` says which attempt.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from sweepnn.recipe.config import Recipe
from sweepnn.results.trackers.trial import TrialRun

MARK = "sweepnn-trial.json"  # in a trial's folder: its number and start time (TrialRun.key)

# how each state ends a session in the HParams tab
_STATUS = {"complete": "STATUS_SUCCESS", "failed": "STATUS_FAILURE", "crashed": "STATUS_FAILURE"}


class TensorBoardFiles:
    """The TensorBoard event files of one study; `tensorboard --logdir <where>` shows them."""

    label = "TensorBoard"

    def __init__(self, recipe: Recipe, results_dir: Path):
        folder = results_dir / recipe.name
        self.root = folder / "tensorboard"
        self.writing = folder / ".tensorboard-writing"  # beside the log dir: TensorBoard never reads it
        self.where = str(self.root)
        self.reader = f"tensorboard --logdir {self.root}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            from sweepnn.errors import InputError

            raise InputError(f"cannot write TensorBoard files to {self.root}: {e.strerror or e}") from None

    def logged(self) -> dict[int, str]:
        out = {}
        for mark in self.root.glob(f"trial-*/{MARK}"):
            found = _mark(mark)
            if found is not None:
                out[found[0]] = found[1]
        return out

    def log(self, run: TrialRun) -> None:
        final = self.root / f"trial-{run.number:04d}"
        if _mark(final / MARK) == (run.number, run.key):
            return
        from torch.utils.tensorboard import SummaryWriter

        temp = self.writing / final.name
        shutil.rmtree(temp, ignore_errors=True)
        start = run.started.timestamp() if run.started else None
        writer = SummaryWriter(log_dir=str(temp))
        try:
            writer.file_writer.add_summary(_session_start(run, start), walltime=start)
            for epoch, metrics in run.history:
                for name, value in metrics.items():
                    writer.add_scalar(name, value, epoch, walltime=_at(start, metrics, epoch))
            end = run.finished.timestamp() if run.finished else None
            for name, value in run.values.items():  # what the trial scored (over its seeds), for HParams
                writer.add_scalar(name, value, run.last_epoch, walltime=end)
            writer.file_writer.add_summary(_session_end(run, end), walltime=end)
        finally:
            writer.close()
        (temp / MARK).write_text(json.dumps({"trial": run.number, "key": run.key}), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)  # an older study's trial of the same number
        temp.rename(final)
        with contextlib.suppress(OSError):  # not empty: another trial is being written there
            self.writing.rmdir()

    def clear(self) -> None:
        for trial in self.root.glob("trial-*"):
            shutil.rmtree(trial)
        shutil.rmtree(self.writing, ignore_errors=True)


def _mark(path: Path) -> tuple[int, str] | None:
    """(trial number, key) of a trial's folder, None when it has no readable mark (written again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data["trial"]), str(data["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _at(start: float | None, metrics: dict[str, float], epoch: int) -> float | None:
    """An epoch's wall time: the trial's start plus its training seconds so far, when recorded."""
    if start is None or "train_time" not in metrics:
        return None
    return start + metrics["train_time"]


def _hparam(value):
    """A value the hparams plugin takes (a bool, a number or a text); others as their JSON text."""
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


def _session_start(run: TrialRun, start: float | None):
    from tensorboard.plugins.hparams.summary_v2 import hparams_pb

    values = {path: _hparam(v) for path, v in run.params.items()}
    return hparams_pb(values, trial_id=f"trial-{run.number}", start_time_secs=start)


def _session_end(run: TrialRun, end: float | None):
    """The hparams plugin's end of a session, with how it ended (its v1 summary API needs TensorFlow:
    built here from the plugin's own protos, as its v2 API builds the start)."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(
        status=api_pb2.Status.Value(_STATUS.get(run.state, "STATUS_ABORTED")), end_time_secs=end or 0
    )
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=metadata.SESSION_END_INFO_TAG,
        metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_end_info=info)),
        tensor=metadata.NULL_TENSOR,
    )
    return summary
