"""A trial's searched values as its author would write them, for every table and file made from them.

Optuna puts a stepped float on its grid by arithmetic (`low + k * step`), so `{low: 0.1, step: 0.1}`
stores 0.30000000000000004 for 0.3, and a log range stores seventeen digits nobody chose. Read here
at 12 significant digits, the value is the one a user set (0.3, 3e-4, 0.00302154876543): the digits
dropped are float arithmetic, far below what any setting means and below float32's resolution (0.3
and 0.30000000000000004 are one float32), so best.yaml keeps the configuration. Two studies, one
that sampled 0.30000000000000004 and one whose grid gave 0.3, then group as one value in
`compare --by` too.

A sweep since sweepnn snaps a stepped value onto its grid as it samples it (sweepnn.sweep.trials:
it trains with 0.3), so this reading matters for a log range's digits and for studies made before.
The other rule, for tables people read, is sweepnn.results.tables.fmt (4 significant digits). The
values a trial recorded (what it trained with) stay exact in the storage and in `sweepnn export
--format json`.
"""

from __future__ import annotations

import math
from typing import Any

from sweepnn import record

SIGNIFICANT = 12  # digits a searched float is read at: more than any setting has, fewer than a float's 17


def as_set(value: Any) -> Any:
    """A searched value as its author would write it: a float at SIGNIFICANT digits, anything else
    (a name, an int, a bool, a mapping choice) as it is."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{SIGNIFICANT}g}")
    return value


def params_of(trial: Any, exact: bool = False) -> dict[str, Any]:
    """The values a trial sampled at its searched paths (record.PARAMS, as the sweep recorded them; Optuna's
    own record for a trial made elsewhere), as set; `exact`: as recorded, the values it trained with."""
    params = trial.user_attrs.get(record.PARAMS, trial.params)
    return dict(params) if exact else {k: as_set(v) for k, v in params.items()}
