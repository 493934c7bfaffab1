"""Training one network, or K of them stacked: torch only, no Optuna. The trainer, its data on the
device, the diagnostics that name how a trial trained, seed repeats, the test split, devices, and
the TrialResult a trial gives back."""
