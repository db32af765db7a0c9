"""The storage layer: an experiment's events as immutable blocks of numpy columns.

Why columns: a stored event as an object with two dicts costs about 1 KB and
puts millions of objects under the garbage collector; as a row of typed
columns plus its encoded fields it costs well under 250 bytes, and windows,
percentiles and sums read numbers straight from arrays at C speed.

Why immutable blocks: a reader gets a snapshot (a tuple of blocks) from the
actor in O(blocks), then works on it in a worker thread while the actor
keeps appending. Nothing in a block ever changes after it is made.
"""
