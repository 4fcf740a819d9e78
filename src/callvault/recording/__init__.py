"""Call recording: crash-safe capture spool, finisher and crash recovery.

The rules that decide which calls are recorded, and how, are in
:mod:`callvault.recording.rules` (pure) and :mod:`callvault.recording.rule_store`
(an account's rules in the database).
"""
