"""The actor layer: mailboxes, experiment actors, their supervisor and registry.

An experiment actor owns its experiment's record, store and statistics and
changes them only while handling a message from its mailbox, one at a time,
as an OTP ``gen_server`` does. The supervisor restarts a crashed actor with
the state the dead incarnation handed over; the registry routes calls.
"""
