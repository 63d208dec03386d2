"""Programs from the system's packages that some tests need (promtool, chromium).

``make tools`` (run by ``make test`` and ``.ci/run``) installs them with apt when they are
missing and the machine allows it. A test that needs one FAILS when it is missing, so that CI
cannot pass without it; on a developer's machine without them, AIDPORT_ALLOW_MISSING_TOOLS=1
turns that failure into a skip.
"""

from __future__ import annotations

import os
import shutil

import pytest

ALLOW_MISSING = "AIDPORT_ALLOW_MISSING_TOOLS"


def require(program: str, package: str) -> str:
    """The path of ``program``; fails (or skips where allowed) when it is not installed."""
    found = shutil.which(program)
    if found:
        return found
    message = f"{program} is missing: `make tools` or `apt-get install -y {package}`"
    if os.environ.get(ALLOW_MISSING) == "1":
        pytest.skip(f"{message} ({ALLOW_MISSING}=1)")
    pytest.fail(f"{message}; set {ALLOW_MISSING}=1 to skip these tests on this machine")
