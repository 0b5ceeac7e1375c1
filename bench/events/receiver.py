"""A webhook receiver for the change-event benchmark: answers every POST with 204 at once and
counts them, so that the benchmark measures Tessera's delivery, not the receiver.

Usage: python3 bench/events/receiver.py PORT COUNT_FILE
Writes the number of requests received to COUNT_FILE when stopped (SIGTERM).
"""
import asyncio
import signal
import sys

received = 0


class Webhook(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        global received
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            received += 1
            self.transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")


async def main(port, count_file):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Webhook, "127.0.0.1", port)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with server:
        await stop
    with open(count_file, "w") as out:
        out.write(f"{received}\n")


asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
