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


class PortReservation:
    """Ports on 127.0.0.1 for the servers the harness starts as processes (moto, each cargo
    lambda watch), held from the moment the kernel picks them until those servers listen.

    Each port is a socket bound to port 0 (the kernel's choice) and kept bound, not listening,
    with SO_REUSEADDR. While it is bound the kernel gives that port to no one else: not to
    another bind to port 0 (the harness's own servers, a second reservation) nor as the source
    port of a connection. Yet the server it is for can bind it and listen, as its listener sets
    SO_REUSEADDR too (werkzeug's and tokio's do). Releasing a port before its server listens
    would let the kernel hand it out again meanwhile (what once gave the approval server the
    port of a cargo lambda watch), so release() comes after the waits."""

    def __init__(self, count: int):
        self._sockets = []
        try:
            for _ in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._sockets.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", 0))
        except BaseException:
            self.release()
            raise
        self.ports = [s.getsockname()[1] for s in self._sockets]

    def release(self):
        """Closes the reservations (idempotent): each server's own listener now holds its port."""
        for s in self._sockets:
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
    """Until something accepts connections on 127.0.0.1:port; fails at once if `proc` exits,
    saying whether another process listens on its port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            name = Path(proc.args[len(DIE_WITH_PARENT)]).name
            why = (f"127.0.0.1:{port} is taken: another process listens there"
                   if listening(port) else f"before listening on 127.0.0.1:{port}")
            raise RuntimeError(f"{name} exited with {proc.returncode} {why}")
        if listening(port):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def listening(port: int) -> bool:
    """Does something accept connections on 127.0.0.1:port?"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


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
