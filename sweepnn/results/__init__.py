"""Results: pandas over what a sweep stored. The frame of trials (tables), the result files made
from it (files), reading trials at recipe paths (analysis), effects of a path's values, the ranked
report of `show` (inspection), charts and plots, CI bars, and the terminal output of a running sweep
(display, run_report)."""
