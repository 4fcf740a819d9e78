"""Call recording: crash-safe capture spool, finisher and crash recovery."""
