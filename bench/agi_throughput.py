"""AGI commands per second through FastAgiServer vs a bare asyncio floor (and
panoramisk, if a Python with it is given), and peak RSS holding 1,000 calls at once.

    .venv/bin/python bench/agi_throughput.py [--calls 5000] [--concurrency 100]
        [--hold 1000] [--panoramisk-python /tmp/pano-venv/bin/python]

Each server runs in its own process (one core), the fake Asterisk load generator in this
one (the other core); every server has the same conversation with the same scripted
caller: the minimal handler's call (ivr.testing.minimal), 17 AGI commands. The floor
and panoramisk servers replay that recorded command list without parsing, so they
show what the network and asyncio cost alone. "server CPU us/cmd" is the server
process's own CPU time per command, which does not depend on the load generator's speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ server side


def _usage() -> tuple[int, float]:
    """(peak RSS in KiB, CPU seconds) of this process.

    getrusage's ru_maxrss survives execve on Linux, so a server started from a big
    parent would report the parent's peak; VmHWM is this process image's own peak.
    """
    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak = ru.ru_maxrss
    try:
        status = Path("/proc/self/status").read_text()
        peak = int(status.split("VmHWM:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        pass  # not Linux: ru_maxrss it is
    return peak, ru.ru_utime + ru.ru_stime


async def _serve(kind: str, commands: list[str], hold: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    server: object
    if kind in ("ivr", "ivr-hold"):
        sys.path.insert(0, str(ROOT))
        from ivr.agi.server import FastAgiServer
        from ivr.channels.channel import Channel
        from ivr.testing.minimal import minimal_handler

        all_in = asyncio.Event()

        async def holding(channel: Channel) -> None:
            if agi.active_calls >= hold:
                all_in.set()
            await all_in.wait()
            await minimal_handler(channel)

        agi = FastAgiServer(holding if kind == "ivr-hold" else minimal_handler, port=0)
        await agi.start()
        port = agi.port
        server = agi
    elif kind == "floor":
        wire = [(c + "\n").encode() for c in commands]

        class Floor(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                self.t, self.buf, self.i = transport, b"", -1

            def data_received(self, data: bytes) -> None:
                self.buf += data
                if self.i < 0:
                    _head, sep, rest = self.buf.partition(b"\n\n")
                    if not sep:
                        return
                    self.buf, self.i = rest, 0
                    self.t.write(wire[0])
                while b"\n" in self.buf:
                    _, _, self.buf = self.buf.partition(b"\n")
                    self.i += 1
                    if self.i < len(wire):
                        self.t.write(wire[self.i])
                    else:
                        self.t.close()
                        return

        srv = await loop.create_server(Floor, "127.0.0.1", 0, backlog=1024)
        port = srv.sockets[0].getsockname()[1]
        server = srv
    else:  # panoramisk 1.4, replaying the same commands
        from panoramisk.fast_agi import Application

        app = Application(loop=loop)

        async def route(request: object) -> None:
            for command in commands:
                await request.send_command(command)  # type: ignore[attr-defined]

        app.add_route("hotline", route)
        srv = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=1024)
        port = srv.sockets[0].getsockname()[1]
        server = srv
    rss0, _ = _usage()
    print(f"PORT {port} {rss0}", flush=True)
    loop.add_reader(sys.stdin.fileno(), stop.set)  # parent closes our stdin to stop us
    await stop.wait()
    rss, cpu = _usage()
    print(json.dumps({"maxrss_kb": rss, "rss0_kb": rss0, "cpu_s": cpu}), flush=True)
    del server


# ------------------------------------------------------------------ load side


class Server:
    def __init__(self, python: str, kind: str, commands_file: str, hold: int) -> None:
        self.proc = subprocess.Popen(
            [python, __file__, "--serve", kind, "--commands-file", commands_file,
             "--hold", str(hold)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "PORT":
            raise RuntimeError(f"{kind} server did not start")
        self.port = int(line[1])

    def stop(self) -> dict[str, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        result: dict[str, float] = json.loads(self.proc.stdout.readline())
        self.proc.wait(timeout=30)
        return result


async def _load(port: int, calls: int, concurrency: int) -> object:
    from ivr.testing.callers import ImpatientCaller
    from ivr.testing.load import drive
    from ivr.testing.minimal import MINIMAL_KEYS

    return await drive("127.0.0.1", port, calls, concurrency=concurrency,
                       caller_factory=lambda _i: ImpatientCaller(MINIMAL_KEYS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--hold", type=int, default=1000,
                        help="calls held at once for the peak RSS measurement")
    parser.add_argument("--panoramisk-python", help="a Python that can import panoramisk")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--commands-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        commands = json.loads(Path(args.commands_file).read_text()) if args.commands_file \
            else []
        asyncio.run(_serve(args.serve, commands, args.hold))
        return 0

    sys.path.insert(0, str(ROOT))
    from ivr.testing.callers import ImpatientCaller
    from ivr.testing.fake_asterisk import run_call
    from ivr.testing.load import LoadSummary
    from ivr.testing.minimal import MINIMAL_KEYS

    me = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        commands_file = os.path.join(tmp, "commands.json")
        Path(commands_file).write_text("[]")
        probe = Server(me, "ivr", commands_file, 0)
        sample = asyncio.run(run_call("127.0.0.1", probe.port, ImpatientCaller(MINIMAL_KEYS)))
        probe.stop()
        Path(commands_file).write_text(json.dumps(sample.commands))

        kinds = [("ivr FastAgiServer", me, "ivr"), ("bare asyncio floor", me, "floor")]
        if args.panoramisk_python:
            kinds.append(("panoramisk 1.4", args.panoramisk_python, "panoramisk"))
        rows = []
        for label, python, kind in kinds:
            server = Server(python, kind, commands_file, 0)
            summary = asyncio.run(_load(server.port, args.calls, args.concurrency))
            usage = server.stop()
            assert isinstance(summary, LoadSummary)
            rows.append((label, summary, usage))

        hold = Server(me, "ivr-hold", commands_file, args.hold)
        held = asyncio.run(_load(hold.port, args.hold, args.hold))
        hold_usage = hold.stop()
        assert isinstance(held, LoadSummary)

    print(f"{args.calls} calls x {len(sample.commands)} AGI commands, concurrency "
          f"{args.concurrency}, Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'server':<22}{'calls/s':>9}{'cmds/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'server CPU us/cmd':>19}{'ok':>7}")
    for label, s, usage in rows:
        us = usage["cpu_s"] / s.commands * 1e6 if s.commands else 0.0
        print(f"{label:<22}{s.calls_per_second:>9,.0f}{s.commands_per_second:>9,.0f}"
              f"{s.p50_ms:>9.3f}{s.p99_ms:>9.3f}{us:>19.1f}{s.completed:>7}")
    grown = (hold_usage["maxrss_kb"] - hold_usage["rss0_kb"]) / 1024
    print(f"peak RSS holding {args.hold} concurrent calls (ivr FastAgiServer): "
          f"{hold_usage['maxrss_kb'] / 1024:.1f} MiB (started at "
          f"{hold_usage['rss0_kb'] / 1024:.1f} MiB: +{grown:.1f} MiB, "
          f"{grown * 1024 / max(args.hold, 1):.1f} KiB per call); "
          f"{held.completed}/{held.calls} completed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
