"""Pushing posterior draws forward: the propagation of emission paths (:mod:`.propagate`: the
Forecast container, peak metrics) and its chunked, dask-backed scale-out (:mod:`.scale`)."""
