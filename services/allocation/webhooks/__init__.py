"""Signed webhooks for provinces, per the Standard Webhooks specification.

``registry`` registers endpoints (the ``whsec_`` secret shown once, stored encrypted);
``outbox`` writes one delivery per endpoint and event in the transaction that records the
event; ``worker`` sends them on the background pool, retrying with exponential backoff
and jitter until a 2xx or three days; ``signing`` signs with the ``standardwebhooks``
library; ``targets`` keeps deliveries away from private addresses (SSRF)."""
