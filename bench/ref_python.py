#!/usr/bin/python3
"""bench/ref_python.py - the Python reference: socketserver.ThreadingTCPServer
(or ThreadingUDPServer with --udp) with an echo handler that uses
recv()/sendall() on the socket itself and sets TCP_NODELAY.

request_queue_size is raised to socket.SOMAXCONN, the backlog libsockserv and
the C references use (and CPython's own default from 3.15 on), so that a
burst of connections measures the server, not SYN retransmits.
"""
import argparse
import socket
import socketserver
import sys


class EchoStream(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data)


class EchoDatagram(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = socket.SOMAXCONN


class UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    max_packet_size = 65536


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--udp", action="store_true")
    a = p.parse_args()
    host, _, port = a.listen.rpartition(":")
    host = host.strip("[]")
    cls = UDPServer if a.udp else TCPServer
    if ":" in host:
        cls = type(cls.__name__ + "6", (cls,), {"address_family": socket.AF_INET6})
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    srv = cls((host, int(port)), EchoDatagram if a.udp else EchoStream)
    h, prt = srv.server_address[:2]
    print(f"listening on {'[%s]' % h if ':' in h else h}:{prt}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
