"""Statistics over an experiment's numbers: live (streaming) and post-hoc.

Everything here works on numpy columns handed over by the storage layer and
knows nothing of actors or storage: exact sums, moments, percentiles,
windows, significance tests, anomaly detection and sampling.
"""
