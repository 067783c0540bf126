"""A sandbox authyd for the suite: the one at AUTHYD_GRPC_ADDR, or `$AUTHYD_BIN serve` started on
port 0 with a fresh --data-dir (sandbox mode: no Authy key), its address read from its
`grpc listening on ADDR` log line. The server is stopped at the end of the session."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def authyd_addr() -> Iterator[str]:
    if os.environ.get("AUTHYD_GRPC_ADDR"):
        yield os.environ["AUTHYD_GRPC_ADDR"]
        return
    binary = ROOT / os.environ.get("AUTHYD_BIN", "target/debug/authyd")
    with tempfile.TemporaryDirectory(prefix="authyd-py-client-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k != "AUTHYD_AUTHY_API_KEY"}
        proc = subprocess.Popen(
            [str(binary), "serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
             "--data-dir", data_dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        log: list[str] = []
        found = threading.Event()
        addr: list[str] = []

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:  # keep draining so the server never blocks on a full pipe
                log.append(line)
                m = re.search(r"grpc listening on (\S+)", line)
                if m and not found.is_set():
                    addr.append(m.group(1))
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not found.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("authyd did not start:\n" + "".join(log))
        try:
            yield addr[0]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
