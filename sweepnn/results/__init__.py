"""Results: pandas over what a sweep stored. The frame of trials (tables), the result files made
from it (files), a trial's searched values as set (values), reading trials at recipe paths
(analysis), effects of a path's values, the settings studies set differently (settings), the ranked
report of `show` (inspection), charts and plots, the HTML report (report_html, report_page), the
trackers a run writes to (trackers), CI bars, and the terminal output of a running sweep (display,
run_report)."""
