"""The actor's hot path: enrich, pack, store and count a run of emitted events.

Inlined by hand over a batch: columns, Welford state and counters are bound
to locals once per batch rather than looked up per event, which halves the
per-event cost. The rules themselves live in ``_enrichment``, ``_store`` and
``_streaming``; this loop only applies them. Events are taken straight from
the mailbox, so nothing is copied into an intermediate list.

A crash (a bug; callers' values cannot cause one) leaves every column
aligned: each event appends its timestamp first, the only append that can
fail, and the rest only after everything that can fail has been computed.
"""

from __future__ import annotations

import marshal
from collections import deque
from typing import TYPE_CHECKING, Any

from ._enrichment import copied, derive
from ._event import EVENT_ID_PREFIX, next_serial
from ._payload import PAYLOAD_FORMAT
from ._store import HAS_COST, HAS_LATENCY, OUTCOME_FLAGS

if TYPE_CHECKING:
    from ._cell import ExperimentCell


def ingest(cell: ExperimentCell, queue: deque[Any], limit: int) -> tuple[int, Any]:
    """Take up to ``limit`` items from the mailbox, collecting events in order.

    Stops early at the first control message or query and returns it, for the
    actor to run before anything behind it: (items taken, that message or None).
    If handling an event raises, the events before it are stored and counted,
    that event is counted as dropped, and the exception propagates; every
    later item is still in the mailbox.
    """
    popleft = queue.popleft
    taken = 0
    if not cell.collecting:
        # Paused or stopped: events are not collected, up to the next message.
        while taken < limit and queue:
            item = popleft()
            taken += 1
            if type(item) is not tuple:
                return taken, item
            popleft(), popleft(), popleft()  # the event's other slots
        return taken, None
    store, stats = cell.store, cell.stats
    moments, tokens_total = stats.latency, store.tokens
    count, mean, m2, low, high = moments.count, moments.mean, moments.m2, moments.min, moments.max
    cost_count, cost_sum = stats.cost_count, stats.cost_total
    successful, failed = stats.successful, stats.failed
    token_n, token_p, token_c, token_t = (
        tokens_total.count,
        tokens_total.prompt,
        tokens_total.completion,
        tokens_total.total,
    )
    name_counts = stats.event_counts
    # Consecutive events nearly always share one name object: count runs of it
    # rather than hash a tuple per event.
    run_name: Any = None
    run_length = 0
    pricing, nanoseconds = cell.pricing, cell.nanosecond_stamps
    rate, draw = cell.sampling_rate, cell.sampler.random
    timestamps = store.timestamps
    append_timestamp = timestamps.append
    append_name, append_payload = store.names.append, store.payloads.append
    append_latency, append_cost = store.latencies.append, store.costs.append
    append_flags = store.flags.append
    dumps, outcome_flags = marshal.dumps, OUTCOME_FLAGS
    id_prefix = EVENT_ID_PREFIX
    last = timestamps[-1] if timestamps else None
    try:
        while taken < limit and queue:
            name = popleft()
            taken += 1
            if type(name) is not tuple:
                return taken, name  # a control message or query
            # The other three slots of the event (see _mailbox): never missing.
            measurements, metadata, timestamp = popleft(), popleft(), popleft()
            if nanoseconds:
                timestamp //= 1000
            if rate < 1.0 and draw() >= rate:
                continue
            measured = measurements if type(measurements) is dict else copied(measurements)
            meta = metadata if type(metadata) is dict else copied(metadata)
            latency, cost, outcome, tokens = derive(measured, meta, pricing)
            # The event id is new_event_id()'s; a marshal payload holds just its
            # serial (an int costs less to pack than the id's str).
            serial = next_serial()
            try:
                payload: object = dumps((serial, measured, meta), PAYLOAD_FORMAT)
            except (ValueError, RecursionError):  # non-builtin values: keep copies
                payload = (id_prefix + hex(serial), dict(measured), dict(meta))
            if last is not None and timestamp < last:
                store.insert_emitted(timestamp, name, payload, latency, cost, outcome)  # type: ignore[arg-type]
            else:
                append_timestamp(timestamp)
                last = timestamp
                append_name(name)
                append_payload(payload)  # type: ignore[arg-type]
                flags = outcome_flags[outcome]
                if latency is None:
                    append_latency(0.0)
                else:
                    append_latency(latency)
                    flags |= HAS_LATENCY
                if cost is None:
                    append_cost(0.0)
                else:
                    append_cost(cost)
                    flags |= HAS_COST
                append_flags(flags)
            # Streaming statistics (Welford), as StreamingStats.add.
            if name is run_name:
                run_length += 1
            else:
                if run_length:
                    name_counts[run_name] = name_counts.get(run_name, 0) + run_length
                run_name, run_length = name, 1
            if latency is not None:
                count += 1
                delta = latency - mean
                mean += delta / count
                m2 += delta * (latency - mean)
                if latency < low:
                    low = latency
                if latency > high:
                    high = latency
            if cost is not None:
                cost_count += 1
                cost_sum += cost
            if outcome is True:
                successful += 1
            elif outcome is False:
                failed += 1
            if tokens is not None:
                token_n += 1
                token_p += tokens[0]
                token_c += tokens[1]
                token_t += tokens[2]
    except Exception:
        cell.mailbox.count_drops(1)  # the event being handled is lost
        raise
    finally:
        if run_length:
            name_counts[run_name] = name_counts.get(run_name, 0) + run_length
        moments.count, moments.mean, moments.m2, moments.min, moments.max = (
            count,
            mean,
            m2,
            low,
            high,
        )
        stats.cost_count, stats.cost_total = cost_count, cost_sum
        stats.successful, stats.failed = successful, failed
        tokens_total.count, tokens_total.prompt = token_n, token_p
        tokens_total.completion, tokens_total.total = token_c, token_t
    return taken, None
