"""Prints a free TCP port on the loopback interface (for a test's MASTER_PORT)."""
import socket

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
