"""The intake rules, one module per use case; ``services.intake.domain`` puts them together.

Pure: no I/O, no framework. Every command carries ``now`` and everything else it needs
(the shelf-life limits, whether its author is a supervisor), so that a rule is judged by
its inputs only.
"""
