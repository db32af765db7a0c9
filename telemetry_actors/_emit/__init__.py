"""The caller's side: ``emit`` and ``span``, capturing an event at the call.

``emit`` runs on the caller's thread, so everything here is on the hot path:
one cached route lookup, one C-speed capture of the fields, and an atomic
append to each listening experiment's mailbox.
"""
