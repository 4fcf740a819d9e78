"""Runnable examples of IVR API applications built with :mod:`callvault.ivr.sdk`."""
