"""Results: pandas over what a sweep stored. The result files (tables), reading trials at recipe
paths (analysis), effects of a path's values, the ranked report of `show` (inspection), charts and
plots, CI bars, and the terminal output of a running sweep (display, run_report)."""
