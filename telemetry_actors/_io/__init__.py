"""Input and output: exports (CSV, JSON Lines, Parquet) and archives.

Writers run in worker threads on a snapshot, a batch of events at a time,
streaming to disk: a million events never sit in memory as objects at once.
Every stored value can be written: what a format cannot represent is
written as its ``str()``, lone surrogates escaped.
"""
