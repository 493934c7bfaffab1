"""The sweep: the only package that imports Optuna. A study opened for a run (opening: created,
resumed, refused; resuming: what a resume may change), the sweep loop (study), one trial's training
and recording (trials), samplers and pruners, storages and the crash-safe journal, heartbeats and
recovery of dead workers' trials (liveness), local worker processes (workers), one run from start to
result files (runner), and opening what was stored for the commands that read it (reading)."""
