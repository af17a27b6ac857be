"""Launches worker scripts as fresh Python processes on 127.0.0.1, bounded in time.

Every process started here is killed (its whole process group) when the `with`
block ends, whatever the outcome, so a hung collective never outlives a test.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def free_ports(count):
    """`count` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports, index):
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


class Processes:
    """The processes of one launch; `wait` bounds them all by one deadline."""

    def __init__(self):
        self.procs = {}
        self.logs = {}

    def start(self, name, script, args, env_extra, log_dir):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": "", **env_extra}
        env.pop("TF_CONFIG", None) if "TF_CONFIG" not in env_extra else None
        log_path = Path(log_dir) / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 (closed in kill_all)
        self.logs[name] = (log, log_path)
        self.procs[name] = subprocess.Popen(
            [sys.executable, str(HERE / script), *map(str, args)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(log_dir),
            start_new_session=True,
        )
        return self.procs[name]

    def log(self, name):
        return self.logs[name][1].read_text(errors="replace")

    def wait(self, names, timeout):
        """Waits for `names` to exit; returns their return codes (None = killed at timeout)."""
        deadline = time.monotonic() + timeout
        codes = {}
        for name in names:
            try:
                codes[name] = self.procs[name].wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None
        return codes

    def kill(self, name):
        proc = self.procs[name]
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def kill_all(self):
        for name in list(self.procs):
            self.kill(name)
        for log, _ in self.logs.values():
            log.close()

    def report(self):
        return "\n".join(f"--- {name} (rc={self.procs[name].returncode}) ---\n{self.log(name)[-3000:]}"
                         for name in self.procs)


@contextlib.contextmanager
def processes():
    procs = Processes()
    try:
        yield procs
    finally:
        procs.kill_all()


def wait_for_file(path, timeout, procs=None):
    """Waits until `path` exists; False at timeout or when every process in `procs` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(path).exists():
            return True
        if procs and all(p.poll() is not None for p in procs):
            return Path(path).exists()
        time.sleep(0.05)
    return False
