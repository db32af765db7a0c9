"""Research-grade telemetry for LLM experiments, as supervised asyncio actors.

Each experiment is an actor with a mailbox under a supervisor; instrumented
code calls the cheap, thread-safe :func:`emit`; the actors enrich, store and
count; the :class:`Runtime` answers queries, analysis and exports.
"""

from ._emit._emit import emit as emit
from ._emit._span import span as span
from ._event import Event as Event
from ._exceptions import AlreadyPausedError as AlreadyPausedError
from ._exceptions import ExperimentNotFoundError as ExperimentNotFoundError
from ._exceptions import InvalidTransitionError as InvalidTransitionError
from ._exceptions import NoEventsError as NoEventsError
from ._exceptions import NotPausedError as NotPausedError
from ._exceptions import NotRunningError as NotRunningError
from ._exceptions import RuntimeClosedError as RuntimeClosedError
from ._exceptions import TelemetryActorsError as TelemetryActorsError
from ._experiment import Experiment as Experiment
from ._experiment import ExperimentStatus as ExperimentStatus
from ._pricing import BUILTIN_PRICING as BUILTIN_PRICING
from ._results import ActorStatistics as ActorStatistics
from ._results import Comparison as Comparison
from ._results import CostMetrics as CostMetrics
from ._results import LatencyMetrics as LatencyMetrics
from ._results import Metrics as Metrics
from ._results import ReliabilityMetrics as ReliabilityMetrics
from ._results import StreamingCost as StreamingCost
from ._results import StreamingLatency as StreamingLatency
from ._results import StreamingMetrics as StreamingMetrics
from ._results import StreamingReliability as StreamingReliability
from ._results import Summary as Summary
from ._results import TokenMetrics as TokenMetrics
from ._results import TreatmentComparison as TreatmentComparison
from ._results import WindowMetrics as WindowMetrics
from ._runtime import Runtime as Runtime
from ._standard_events import STANDARD_EVENTS as STANDARD_EVENTS
from ._stats._anomaly import Anomaly as Anomaly
from ._stats._anomaly import AnomalyDetection as AnomalyDetection
from ._stats._sampling import Adaptive as Adaptive
from ._stats._sampling import Reservoir as Reservoir
from ._stats._sampling import Stratified as Stratified
from ._stats._sampling import Uniform as Uniform
from ._stats._significance import MetricTest as MetricTest
from ._stats._significance import ProportionTest as ProportionTest
from ._stats._significance import Significance as Significance
from ._windows import Last as Last
from ._windows import LastN as LastN
from ._windows import Range as Range

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_PRICING",
    "STANDARD_EVENTS",
    "ActorStatistics",
    "Adaptive",
    "AlreadyPausedError",
    "Anomaly",
    "AnomalyDetection",
    "Comparison",
    "CostMetrics",
    "Event",
    "Experiment",
    "ExperimentNotFoundError",
    "ExperimentStatus",
    "InvalidTransitionError",
    "Last",
    "LastN",
    "LatencyMetrics",
    "MetricTest",
    "Metrics",
    "NoEventsError",
    "NotPausedError",
    "NotRunningError",
    "ProportionTest",
    "Range",
    "ReliabilityMetrics",
    "Reservoir",
    "Runtime",
    "RuntimeClosedError",
    "Significance",
    "Stratified",
    "StreamingCost",
    "StreamingLatency",
    "StreamingMetrics",
    "StreamingReliability",
    "Summary",
    "TelemetryActorsError",
    "TokenMetrics",
    "TreatmentComparison",
    "Uniform",
    "WindowMetrics",
    "emit",
    "span",
]
