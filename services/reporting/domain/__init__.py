"""Reporting's pure domain: consignments folded from every service's events (``facts``),
their stage, doses and lead times (``measures``), the national picture (``picture``), donor
and province reports (``reports``) and the replay behind ``as_of`` (``replay``)."""
