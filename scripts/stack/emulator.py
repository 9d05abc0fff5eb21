"""The stack test's AWS emulator: ministack on a free loopback port, over TLS, started and stopped by its id."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pki import Tls

# What the emulator's processes may see. The functions it runs inherit its environment
# (ministack starts each bootstrap with a copy of its own), so nothing else reaches them:
# a variable the template does not give a function is missing there, as on AWS.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """ministack with IAM enforcement (AUTH=true), HTTPS, and an environment of its own."""

    def __init__(self, work: Path, tls: Tls) -> None:
        self.port = free_port()
        self.endpoint = f"https://127.0.0.1:{self.port}"
        self.tls = tls
        self.work = work
        self.log_file = work / "ministack.log"
        self._process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        tmp = self.work / "tmp"
        tmp.mkdir(exist_ok=True)
        env.update(
            {
                "HOME": str(self.work),
                "TMPDIR": str(tmp),
                "AUTH": "true",
                "BIND_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(self.port),
                "IOT_MTLS_ENABLED": "0",
                "SFTP_ENABLED": "0",
                "S3_DATA_DIR": str(self.work / "s3"),
                "LOG_LEVEL": "WARNING",
                "USE_SSL": "1",
                "MINISTACK_SSL_CERT": str(self.tls.cert_file),
                "MINISTACK_SSL_KEY": str(self.tls.key_file),
                # The functions (and the emulator's own JWKS fetch) trust the test CA alone.
                "SSL_CERT_FILE": str(self.tls.ca_file),
                # ministack hands this to every function it runs, so they call it back.
                "AWS_ENDPOINT_URL": self.endpoint,
            }
        )
        return env

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls.ca_file))

    def start(self) -> None:
        ministack = Path(sys.executable).parent / "ministack"
        with open(self.log_file, "wb") as log:
            self._process = subprocess.Popen(
                [str(ministack)], env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"ministack exited before answering:\n{self.log_file.read_text()}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=1, context=self.ssl_context())
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"ministack did not answer on {self.endpoint}:\n{self.log_file.read_text()}")

    def stop(self) -> None:
        """Stops ministack's process group (it and the function processes it started), by its id."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
