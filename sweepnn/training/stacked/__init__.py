"""K same-shaped trials trained as one stacked network (nets: the stacked MLP; optim: the per-member
optimizers; loss: per-member losses and penalties; train: the group's training loop; monitor: each
member's diagnostics)."""
