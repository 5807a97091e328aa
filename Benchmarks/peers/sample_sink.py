"""The receiving end of the compute end-to-end benchmark (scripts/bench-compute.sh, MODE=e2e): the
same kind of server for Nephometer and for collectd, so neither gets an easier peer.

usage: python3 sample_sink.py http|udp PORT COUNTS_FILE

http: answers every POST with 200 and an empty body (keep-alive, HTTP/1.1), counts requests, body
bytes and values: a JSON list's length (Nephometer and Ceilometer: one sample per element), or for
collectd's write_http JSON the number of entries in each value list's "values". udp: counts datagrams
and bytes (Ceilometer's UDP protocol is one sample per datagram; collectd's network plugin packs many
values into one). Every second it rewrites COUNTS_FILE with one line:
  requests=N bytes=N values=N
It runs until killed. Bound to 127.0.0.1 only.
"""
import asyncio
import json
import os
import sys


class Counts:
    def __init__(self, path):
        self.path, self.requests, self.bytes, self.values = path, 0, 0, 0

    def write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"requests={self.requests} bytes={self.bytes} values={self.values}\n")
        os.replace(tmp, self.path)


def count_values(body):
    try:
        doc = json.loads(body)
    except ValueError:
        return 0
    if not isinstance(doc, list):
        return 1
    if doc and isinstance(doc[0], dict) and "values" in doc[0] and "dsnames" in doc[0]:
        return sum(len(v.get("values", [])) for v in doc)
    return len(doc)


class HTTPConnection(asyncio.Protocol):
    def __init__(self, counts):
        self.counts, self.buf, self.transport = counts, bytearray(), None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            if head.startswith("POST"):
                self.counts.requests += 1
                self.counts.bytes += length
                self.counts.values += count_values(body)
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


class UDPCounter(asyncio.DatagramProtocol):
    def __init__(self, counts):
        self.counts = counts

    def datagram_received(self, data, addr):
        self.counts.requests += 1
        self.counts.bytes += len(data)
        self.counts.values += 1


async def main():
    kind, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    counts = Counts(path)
    loop = asyncio.get_running_loop()
    if kind == "http":
        server = await loop.create_server(lambda: HTTPConnection(counts), "127.0.0.1", port)
    else:
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        sock.bind(("127.0.0.1", port))
        await loop.create_datagram_endpoint(lambda: UDPCounter(counts), sock=sock)
        server = None
    while True:
        counts.write()
        await asyncio.sleep(1)


if __name__ == "__main__":
    asyncio.run(main())
