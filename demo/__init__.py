"""``make demo``: the 2021 consignments replayed through the public HTTP APIs."""
