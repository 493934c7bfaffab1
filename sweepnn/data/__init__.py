"""Data before it is a tensor: arrays and their checks, the generated sets, the file formats a
dataset is read from (each read distrusting the file), and downloads checked against their digests.
The datasets themselves are entries of sweepnn.options.datasets."""
