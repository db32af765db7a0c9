"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

#: A zero-argument callable returning microseconds since the Unix epoch.
Clock: TypeAlias = Callable[[], int]

#: An event name as callers may give it: a tuple of str or a dotted str.
EventNameLike: TypeAlias = tuple[str, ...] | str

#: The normalised form of an event name.
EventName: TypeAlias = tuple[str, ...]

#: Measurements or metadata as callers pass them.
Fields: TypeAlias = Mapping[str, Any]

#: Measurements or metadata as the runtime keeps them (its own dict).
FieldDict: TypeAlias = dict[str, Any]

#: ``{model_name: (usd_per_1M_input_tokens, usd_per_1M_output_tokens)}``.
PricingTable: TypeAlias = Mapping[str, tuple[float, float]]

#: What an emit leaves in a mailbox: (name, captured fields, the caller's
#: measurements and metadata (kept for a check when the fields were encoded),
#: time stamp from the runtime's clock).
RawEvent: TypeAlias = "tuple[EventName, Any, Fields | None, Fields | None, Any]"
