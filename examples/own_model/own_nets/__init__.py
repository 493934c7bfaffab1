"""A residual MLP and a generated dataset of noisy sine waves, registered as sweepnn options by entry
points (see pyproject.toml): `model: {name: resmlp}`, `data: {name: sines}`."""
