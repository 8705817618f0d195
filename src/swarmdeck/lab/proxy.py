"""A delaying TCP proxy: emulates a slow link in front of a lab node's sshd.

The lab kernel has no netem, so latency is added here: every chunk is held DELAY seconds
in each direction (order kept), which adds 2*DELAY to every round trip.

    python -m swarmdeck.lab.proxy LISTEN_HOST:PORT TARGET_HOST:PORT --delay 0.025
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                break
        await sender
    except (OSError, asyncio.IncompleteReadError):
        sender.cancel()
    finally:
        writer.close()


class DelayProxy:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
        self.listen = listen
        self.target = target
        self.delay = delay
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, *self.listen)

    async def _handle(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
        except OSError:
            c_writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            await asyncio.gather(_pipe(c_reader, s_writer, self.delay),
                                 _pipe(s_reader, c_writer, self.delay))
        except asyncio.CancelledError:
            pass  # cut(): both ends are closed below, like a link going down
        finally:
            self._conns.discard(task)
            c_writer.close()
            s_writer.close()

    def cut(self) -> int:
        """Drop every open connection (a link failure); new ones are still accepted."""
        for task in list(self._conns):
            task.cancel()
        return len(self._conns)

    async def close(self) -> None:
        if self._server:
            self._server.close()
        self.cut()


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _serve(listen: str, target: str, delay: float) -> None:
    proxy = DelayProxy(_hostport(listen), _hostport(target), delay)
    await proxy.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"proxy {listen} -> {target}, {delay * 1000:.0f} ms each way", flush=True)
    await stop.wait()
    await proxy.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("listen", help="HOST:PORT to listen on")
    parser.add_argument("target", help="HOST:PORT to forward to")
    parser.add_argument("--delay", type=float, default=0.025, help="seconds each way")
    args = parser.parse_args()
    asyncio.run(_serve(args.listen, args.target, args.delay))


if __name__ == "__main__":
    main()
