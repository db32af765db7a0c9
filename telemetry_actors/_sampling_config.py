"""An experiment's sampler and anomaly detector, from what ``start_experiment`` got."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._stats._sampling import (
    Adaptive,
    Reservoir,
    Sampler,
    Stratified,
    Uniform,
    make_sampler,
    sampler_from_metadata,
)


def sampler_for(
    metadata: Mapping[str, Any], sampling: Any, anomaly_detection: Any
) -> tuple[Sampler | None, Any]:
    """(sampler or None, live anomaly detector or None).

    ``sampling`` wins over ``metadata["sampling_rate"]``; giving both (with a
    rate other than 1) is refused rather than guessed.

    Raises:
        TypeError: ``sampling`` or ``anomaly_detection`` of the wrong type.
        ValueError: both ``sampling`` and a ``sampling_rate``; ``Adaptive``
            without anomaly detection; a bad rate.
    """
    detector = None
    if anomaly_detection is not None:
        from ._stats._anomaly import AnomalyDetection, LiveDetector

        if not isinstance(anomaly_detection, AnomalyDetection):
            raise TypeError(
                "anomaly_detection must be an AnomalyDetection, "
                f"got {type(anomaly_detection).__name__}"
            )
        detector = LiveDetector(anomaly_detection)
    from_metadata = sampler_from_metadata(metadata)
    if sampling is None:
        return from_metadata, detector
    if not isinstance(sampling, Uniform | Reservoir | Stratified | Adaptive):
        raise TypeError(
            "sampling must be Uniform, Reservoir, Stratified or Adaptive, "
            f"got {type(sampling).__name__}"
        )
    if from_metadata is not None:
        raise ValueError(
            "give either sampling= or metadata['sampling_rate'], not both "
            f"(sampling={sampling!r}, sampling_rate={metadata.get('sampling_rate')!r})"
        )
    if isinstance(sampling, Adaptive) and detector is None:
        raise ValueError(
            "Adaptive sampling keeps everything while anomalies are flagged: "
            "give anomaly_detection=AnomalyDetection(...) too"
        )
    return make_sampler(sampling), detector
