"""Routing: which account and object a call belongs to, and the call logic each object runs."""
