"""Processes, ports and threads: what the local stack starts, how it waits for it, how it
stops it.

Every process is started in its own session (so its whole group can be signalled) and gets
SIGTERM if the harness dies (setpriv --pdeathsig); stop_process_tree also reaches the processes
that leave their group (cargo lambda watch runs each function in a group of its own)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

# SIGTERM to each started process if the harness dies, set by setpriv (util-linux) just before
# it executes the command: safe while the harness's threads run, unlike a preexec_fn (a fork of a
# threaded process may only exec).
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []


class BackgroundThread:
    """A daemon thread running `self.run()`, which should end soon after `self.stopping` is
    set; stop() sets it and waits (at most join_timeout seconds)."""

    join_timeout = 5.0

    def __init__(self, name: str):
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self):
        raise NotImplementedError

    def start(self):
        self._thread.start()

    def stop(self):
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.join_timeout)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free on 127.0.0.1 a moment ago (the kernel picks them;
    each socket stays bound until all are chosen, so no port is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(what: str, predicate, timeout: float, interval: float = 0.5):
    """Polls predicate() until it returns something truthy, and returns that; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Until something accepts connections on 127.0.0.1:port; fails at once if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            name = Path(proc.args[len(DIE_WITH_PARENT)]).name
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def spawn(argv: list[str], env: dict[str, str], cwd: Path, log) -> subprocess.Popen:
    """Starts argv in its own session, stdout and stderr to the open binary file `log`, with
    SIGTERM on the harness's death."""
    return subprocess.Popen(DIE_WITH_PARENT + argv, cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def descendants(pid: int) -> list[int]:
    """Every process below pid, from /proc (cargo lambda watch runs functions in their own
    process groups, so killing its group is not enough)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Is pid running (a zombie is not)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_process_tree(proc: subprocess.Popen, grace: float = 5.0) -> list[int]:
    """SIGTERM to the process, its group and every descendant's group; SIGKILL what is left
    after `grace` seconds. Returns the pids still alive at the end (should be empty)."""
    if proc.poll() is not None and not descendants(proc.pid):
        return []
    pids = [proc.pid] + descendants(proc.pid)
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    groups.discard(os.getpgid(0))  # never our own group

    def signal_all(sig):
        for pgid in groups:
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()
        if not any(alive(p) for p in pids if p != proc.pid) and proc.poll() is not None:
            break
        time.sleep(0.1)
    signal_all(signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.2)
    return [p for p in pids if alive(p)]
