"""Runs README.md's examples (the ```python blocks between <!-- readme-example --> markers) in
order, as written, against the live sandbox, and checks what the README says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-example -->\s*```python\n(.*?)```\s*<!-- /readme-example -->", re.S)
EXPECTED = [
    ["valid: True", "INVALID_ARGUMENT ['email']"],
    ["APPROVAL_STATE_PENDING", "APPROVAL_STATE_APPROVED"],
]


def test_readme_examples_run_and_print_what_the_readme_says(authyd_addr: str) -> None:
    blocks = BLOCK.findall(README.read_text())
    assert len(blocks) == len(EXPECTED), "README.md's examples changed: update EXPECTED"
    for block, expected in zip(blocks, EXPECTED):
        run = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "AUTHYD_GRPC_ADDR": authyd_addr}, check=False)
        assert run.returncode == 0, f"README example failed:\n{block}\n{run.stderr}"
        assert run.stdout.splitlines() == expected
