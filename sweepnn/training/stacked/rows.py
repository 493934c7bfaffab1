"""What every per-member part of a stacked group is made of: state with a leading member axis, one
row a member, kept or dropped together when members leave the stack (diverged, pruned, stopped)."""

from __future__ import annotations

import torch


class Rows:
    """Per-member state with a leading member axis; `select` keeps some members, in a new order."""

    rows: tuple[str, ...] = ()

    def select(self, rows: torch.Tensor) -> None:
        for name in self.rows:
            value = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, [value[r] for r in rows.tolist()])
            elif value is not None:
                setattr(self, name, value[rows.to(value.device)])
        self.refresh()

    def refresh(self) -> None:
        """Recompute which terms any remaining member needs (a term all members zero is skipped)."""


def column(values, like: torch.Tensor, dtype=None) -> torch.Tensor:
    """Per-member values (a list, or a double tensor rounded to float as torch rounds its scalars) as
    a (K, 1) column on `like`'s device."""
    return torch.as_tensor(values).to(dtype=dtype or like.dtype, device=like.device).view(-1, 1)
