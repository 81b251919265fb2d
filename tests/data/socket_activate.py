#!/usr/bin/env python3
"""Socket activation as systemd performs it, for the tests: binds a UDP
socket and a TCP listener on one loopback port (PORT, or 0 for any), hands
them over as descriptors 3 and 4 with LISTEN_FDS=2 and LISTEN_PID set to
the process it becomes, and executes COMMAND in its place.

Usage: socket_activate.py PORT COMMAND [ARGS...]
"""

import os
import socket
import sys


def main():
    port, command = int(sys.argv[1]), sys.argv[2:]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(128)
    # Move them to 3 and 4 (by way of free descriptors, should either
    # already sit on the other's place), inheritable across exec.
    high = [os.dup(udp.fileno()), os.dup(tcp.fileno())]
    for target, fd in zip((3, 4), high):
        os.dup2(fd, target, inheritable=True)
    for fd in high:
        if fd not in (3, 4):
            os.close(fd)
    os.environ["LISTEN_FDS"] = "2"
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
