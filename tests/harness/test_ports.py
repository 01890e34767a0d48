"""The harness's ports: while moto's and the watches' ports are reserved, the kernel gives none
of them to anyone else (the approval server and the mailbox bind port 0, boto3 connects), yet
the server each is for can listen on it; a server whose port is taken anyway is named."""
import socket
import sys

import pytest

from harness import processes
from harness.constants import ROOT

# Enough that ports handed out again would collide almost surely (the kernel picks port 0 at
# random among about 14,000 of the default range's 28,232 ports: ~11 collisions expected).
COUNT = 400


def bound_to_port_0(count: int) -> list[socket.socket]:
    """Listeners on ports the kernel chose, as the approval server's (SO_REUSEADDR, port 0)."""
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sockets.append(s)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
    return sockets


def test_no_port_is_handed_out_twice_while_reserved():
    first = processes.PortReservation(COUNT)
    second = processes.PortReservation(COUNT)
    servers = bound_to_port_0(COUNT)
    clients = [socket.create_connection(s.getsockname()) for s in servers]  # as boto3's
    try:
        assert len(set(first.ports)) == COUNT
        assert not set(first.ports) & set(second.ports)
        assert not set(first.ports + second.ports) & {s.getsockname()[1] for s in servers}
        assert not set(first.ports + second.ports) & {c.getsockname()[1] for c in clients}
    finally:
        for s in servers + clients:
            s.close()
        first.release()
        second.release()


def http_server(port: int, log) -> processes.subprocess.Popen:
    """A real server process on 127.0.0.1:port (the standard library's, SO_REUSEADDR set)."""
    return processes.spawn([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                            str(port)], {}, ROOT, log)


def test_the_server_a_port_is_reserved_for_listens_on_it(tmp_path):
    reserved = processes.PortReservation(1)
    [port] = reserved.ports
    with open(tmp_path / "server.log", "ab") as log:
        server = http_server(port, log)
        try:
            processes.wait_for_port(port, 30, server)
            reserved.release()
            assert processes.listening(port)
        finally:
            processes.stop_process_tree(server)
            reserved.release()


def test_a_server_whose_port_is_taken_is_named(tmp_path):
    [taken] = bound_to_port_0(1)
    port = taken.getsockname()[1]
    with open(tmp_path / "server.log", "ab") as log:
        server = http_server(port, log)
        try:
            server.wait(timeout=30)  # as a watch did, the approval server on its port
            with pytest.raises(RuntimeError,
                               match=rf"exited with 1 127\.0\.0\.1:{port} is taken: "
                                     "another process listens there"):
                processes.wait_for_port(port, 30, server)
        finally:
            processes.stop_process_tree(server)
            taken.close()


def test_chromedriver_listens_on_its_port_before_the_reservation_ends(tmp_path, monkeypatch):
    """Selenium's own way (bind a free port, close it, start ChromeDriver on it) leaves a window
    in which another process can take the port; the port stays reserved until ChromeDriver
    listens on it, and only then is released."""
    import browser  # local/browser.py, beside the harness

    released = []
    release = processes.PortReservation.release

    def release_noting_listeners(self):
        released.append([(port, processes.listening(port)) for port in self.ports])
        release(self)

    monkeypatch.setattr(processes.PortReservation, "release", release_noting_listeners)
    driver, profile = browser.start_browser(tmp_path, say=lambda _: None)
    try:
        assert released == [[(driver.service.port, True)]]
    finally:
        browser.stop_browser(driver, profile, say=lambda _: None)
