"""IVR API: the platform side of the customer-application control loop.

The wire contract is ``shared/spec/ivr-api.md``. This package holds the layer
that needs no engine: typed request/response models (``models``), response
validation with JSON pointers (``validate``), the published JSON Schema
(``schema``), HMAC request signing (``signing``), the SSRF guard for object
URLs (``ssrf``) and the HTTP channel (``client``); and the Say* building
blocks turning numbers, digits, dates and times into prompt fragments
(``say``, ``say_pl``, ``say_en``).
"""
