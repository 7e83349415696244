"""AGI commands per second through FastAgiServer vs a bare asyncio floor and panoramisk,
side by side in one run, on the stdlib loop and on uvloop; and the memory of held calls.

    .venv/bin/python bench/agi_throughput.py [--calls 3000] [--concurrency 50,500]
        [--rounds 3] [--hold 2000] [--panoramisk-python /tmp/pano-venv/bin/python]

Each server runs in its own process (one core), the fake Asterisk load generator in this
one (the other core); every server has the same conversation with the same scripted
caller: the minimal handler's call (ivr.testing.minimal), 17 AGI commands. The floor
and panoramisk servers replay that recorded command list without parsing, so they
show what the network and asyncio cost alone. The kinds run interleaved, ``--rounds``
times at each concurrency, and each figure is the median over the rounds, so a noisy
neighbour on a shared machine hits every kind alike. "CPU us/cmd" is the server process's
own CPU time per command; "x floor" and "x pano" are capacity ratios from it (the floor's
or panoramisk's CPU per command over this server's: 1.2 = does the same work with 1/1.2
of the CPU). calls/s is shown too, but one Python load generator bounds it for all.

The hold: ``--hold`` calls parked at once in their first prompt (STREAM FILE sent, its
reply held back: the state a call is in while a real prompt plays), measured as the
server's resident memory growth per call (VmRSS with all parked, minus before).
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
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from ivr.testing.load import LoadSummary

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


def _rss_kib() -> int:
    try:
        return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return 0


async def _serve(kind: str, commands: list[str]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    server: object
    if kind == "ivr":
        sys.path.insert(0, str(ROOT))
        from ivr.agi.server import FastAgiServer
        from ivr.testing.minimal import minimal_handler

        agi = FastAgiServer(minimal_handler, port=0)
        await agi.start()
        port = agi.port
        server = agi
    elif kind == "floor":
        wire = [(c + "\n").encode() for c in commands]

        class Floor(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.t = cast(asyncio.Transport, transport)  # uvloop's is no subclass
                self.buf, self.i = b"", -1

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
    rss0 = _rss_kib()
    print(f"PORT {port} {rss0}", flush=True)

    def command() -> None:  # the parent writes "rss" to ask, closes stdin to stop us
        line = sys.stdin.readline()
        if not line:
            stop.set()
        else:
            print(json.dumps({"rss_kb": _rss_kib()}), flush=True)

    loop.add_reader(sys.stdin.fileno(), command)
    await stop.wait()
    _, cpu = _usage()
    print(json.dumps({"rss0_kb": rss0, "cpu_s": cpu}), flush=True)
    del server


# ------------------------------------------------------------------ load side


class Server:
    def __init__(self, python: str, kind: str, commands_file: str, loop: str) -> None:
        self.proc = subprocess.Popen(
            [python, __file__, "--serve", kind, "--commands-file", commands_file,
             "--loop", loop],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "PORT":
            raise RuntimeError(f"{kind} server did not start")
        self.port = int(line[1])

    def rss_kb(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("rss\n")
        self.proc.stdin.flush()
        return int(json.loads(self.proc.stdout.readline())["rss_kb"])

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


async def _held(server: Server, calls: int) -> tuple[int, int]:
    """Park ``calls`` calls in their first prompt; (RSS growth KiB, calls parked)."""
    from ivr.testing.callers import ImpatientCaller
    from ivr.testing.fake_asterisk import Hold
    from ivr.testing.load import drive_calls
    from ivr.testing.minimal import MINIMAL_KEYS

    before = server.rss_kb()
    hold = Hold(calls, auto_release=False)  # we release them, after measuring
    run = asyncio.ensure_future(drive_calls(
        "127.0.0.1", server.port, calls, concurrency=calls, hold=hold,
        caller_factory=lambda _i: ImpatientCaller(MINIMAL_KEYS)))
    await hold.all_parked.wait()
    grown = server.rss_kb() - before
    parked = hold.parked
    hold.release()
    await run
    return grown, parked


ROWS = (  # label, kind, loop
    ("ivr FastAgiServer", "ivr", "asyncio"),
    ("ivr FastAgiServer uvloop", "ivr", "uvloop"),
    ("bare asyncio floor", "floor", "asyncio"),
    ("bare floor on uvloop", "floor", "uvloop"),
    ("panoramisk 1.4", "panoramisk", "asyncio"),
)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", default="50,500",
                        help="comma-separated levels (default 50,500)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per level")
    parser.add_argument("--hold", type=int, default=2000,
                        help="calls held at once for the memory measurement (0: none)")
    parser.add_argument("--panoramisk-python", help="a Python that can import panoramisk")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--commands-file", help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        commands = json.loads(Path(args.commands_file).read_text()) if args.commands_file \
            else []
        factory = None
        if args.loop == "uvloop":
            import uvloop

            factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_serve(args.serve, commands))
        return 0

    sys.path.insert(0, str(ROOT))
    from ivr.cli.event_loop import run
    from ivr.testing.callers import ImpatientCaller
    from ivr.testing.fake_asterisk import run_call
    from ivr.testing.load import LoadSummary
    from ivr.testing.minimal import MINIMAL_KEYS

    me = sys.executable
    uv = _has_uvloop()
    # The load generator does more per command than any server (it plays Asterisk and
    # the caller): on uvloop it is fastest, and the servers are closer to saturated.
    load_loop = "uvloop" if uv else "asyncio"
    rows = [r for r in ROWS if (uv or r[2] != "uvloop")
            and (args.panoramisk_python or r[1] != "panoramisk")]
    levels = [int(x) for x in args.concurrency.split(",")]
    results: dict[tuple[int, str], list[tuple[LoadSummary, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        commands_file = os.path.join(tmp, "commands.json")
        Path(commands_file).write_text("[]")
        probe = Server(me, "ivr", commands_file, "asyncio")
        sample = asyncio.run(run_call("127.0.0.1", probe.port, ImpatientCaller(MINIMAL_KEYS)))
        probe.stop()
        Path(commands_file).write_text(json.dumps(sample.commands))
        for level in levels:
            for _round in range(args.rounds):
                for label, kind, loop in rows:
                    python = args.panoramisk_python if kind == "panoramisk" else me
                    server = Server(python, kind, commands_file, loop)
                    summary = run(_load(server.port, args.calls, level), load_loop)
                    usage = server.stop()
                    assert isinstance(summary, LoadSummary)
                    us = usage["cpu_s"] / summary.commands * 1e6 if summary.commands else 0.0
                    results.setdefault((level, label), []).append((summary, us))
        held = []
        if args.hold:
            for label, kind, loop in rows:
                if kind != "ivr":
                    continue
                server = Server(me, "ivr", commands_file, loop)
                grown, parked = run(_held(server, args.hold), load_loop)
                server.stop()
                held.append((label, grown, parked))

    print(f"{args.calls} calls x {len(sample.commands)} AGI commands, {args.rounds} rounds "
          f"interleaved (median shown), Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load generator on {load_loop}")
    for level in levels:
        _table(level, rows, results)
    for label, grown, parked in held:
        print(f"held in a prompt, {label}: {parked} calls, +{grown / 1024:.1f} MiB RSS, "
              f"{grown / max(parked, 1):.2f} KiB per call")
    return 0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _table(level: int, rows: list[tuple[str, str, str]],
           results: dict[tuple[int, str], list[tuple[LoadSummary, float]]]) -> None:
    """One row per server, medians over the rounds. The ratios are capacity: the other
    server's CPU per command over this one's (calls/s is bounded by the load generator,
    which does more per command than any of the servers)."""
    def cpu(label: str) -> float:
        return _median([us for _s, us in results[(level, label)]])

    print(f"\nconcurrency {level}")
    print(f"{'server':<26}{'calls/s':>9}{'p99 ms':>9}{'CPU us/cmd':>12}"
          f"{'x floor':>9}{'x pano':>8}{'ok':>7}")
    floor = cpu("bare asyncio floor")
    pano = cpu("panoramisk 1.4") if (level, "panoramisk 1.4") in results else 0.0
    for label, _kind, _loop in rows:
        runs = results[(level, label)]
        us = cpu(label)
        vs_pano = f"{pano / us:>8.2f}" if pano else f"{'-':>8}"
        print(f"{label:<26}{_median([s.calls_per_second for s, _ in runs]):>9,.0f}"
              f"{_median([s.p99_ms for s, _ in runs]):>9.2f}{us:>12.1f}{floor / us:>9.2f}"
              f"{vs_pano}{min(s.completed for s, _ in runs):>7}")


if __name__ == "__main__":
    raise SystemExit(main())
