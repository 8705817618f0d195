"""How long does a one-shot `swarmdeck` command take as a process, before any work?

Times `swarmdeck --version`, `swarmdeck --help` and `swarmdeck ls --help` (each a new
process, best of N runs) against the target of 0.15 s, and `swarmdeck ls` on a cluster whose
manager refuses the connection at once (port 1 of this machine: what ls loads and sets up,
without a network; no target), beside two floors measured in the same run with the same
interpreter: `python -c pass` (the interpreter's own start) and
`python -c "import swarmdeck"` (the package, nothing else). The runs are interleaved, so a
machine that gets busier during the bench slows every case alike. Best of N is the figure
that says what the code costs; the median says what a user sees on this machine now.

Then, for each command, its heaviest top-level imports (cumulative, from `python -X
importtime`): what to look at when a figure goes over its target.

Run:  python bench/cli_startup.py [-n RUNS] [--module] [--before CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.15  # seconds, for each command below
COMMANDS = (["--version"], ["--help"], ["ls", "--help"])
MAX_RUNS = 50
LS_REFUSED = "swarmdeck ls (refused at once)"


def swarmdeck_argv(use_module: bool) -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else
    `python -m swarmdeck`."""
    script = Path(sys.executable).parent / "swarmdeck"
    if not use_module and script.exists():
        return [str(script)]
    return [sys.executable, "-m", "swarmdeck"]


def once(argv: list[str], expected: int = 0, src: Path | None = None) -> float:
    """SRC: swarmdeck from that checkout's src/ (PYTHONPATH)."""
    env = {**os.environ, "COLUMNS": "100"}
    if src is not None:
        env["PYTHONPATH"] = str(src / "src")
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != expected:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()}")
    return elapsed


def heaviest_imports(argv: list[str], limit: int = 6) -> list[tuple[str, float]]:
    """The top-level imports of a run (cumulative seconds), heaviest first."""
    script = argv[1:] if argv[0] == sys.executable else argv
    proc = subprocess.run([sys.executable, "-X", "importtime", *script],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith(" ") and not name.startswith("  "):  # a top-level import
            try:
                found.append((name.strip(), int(cumulative) / 1e6))
            except ValueError:  # the header line
                continue
    return sorted(found, key=lambda item: -item[1])[:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=15, metavar="RUNS",
                        help=f"process runs per case (default 15, at most {MAX_RUNS})")
    parser.add_argument("--module", action="store_true",
                        help="run `python -m swarmdeck` rather than the console script")
    parser.add_argument("--before", type=Path, metavar="CHECKOUT",
                        help="also time each swarmdeck case run from CHECKOUT/src (e.g. main, "
                             "the code before a change), interleaved with the others")
    args = parser.parse_args()
    runs = max(1, min(args.n, MAX_RUNS))
    swarmdeck = swarmdeck_argv(args.module)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text('[clusters.gone]\nmanagers = ["ops@127.0.0.1:1"]\n')
        config.chmod(0o600)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import swarmdeck'": [sys.executable, "-c", "import swarmdeck"],
            **{"swarmdeck " + " ".join(cmd): [*swarmdeck, *cmd] for cmd in COMMANDS},
            LS_REFUSED: [*swarmdeck, "--config", str(config), "ls"],
        }
        srcs: dict[str, Path | None] = dict.fromkeys(cases)
        if args.before is not None:  # python -m swarmdeck, its package from the checkout
            for name, argv in list(cases.items()):
                if name.startswith("swarmdeck"):
                    label = f"{name} [before]"
                    cases[label] = [sys.executable, "-m", "swarmdeck", *argv[len(swarmdeck):]]
                    srcs[label] = args.before
        times: dict[str, list[float]] = {name: [] for name in cases}
        expected = {name: 1 if name.startswith(LS_REFUSED) else 0 for name in cases}
        for name, argv in cases.items():  # one warm-up each: page cache, .pyc files
            once(argv, expected[name], srcs[name])
        for _ in range(runs):
            for name, argv in cases.items():
                times[name].append(once(argv, expected[name], srcs[name]))

    floor = min(times["python -c pass"])
    package = min(times["python -c 'import swarmdeck'"])
    print(f"{runs} runs per case, interleaved; {' '.join(swarmdeck)}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"{'case':41} {'best':>7} {'median':>7} {'target':>7} {'/pass':>6} {'/import':>7}")
    over = []
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        is_command = name.startswith("swarmdeck") and not name.startswith(LS_REFUSED)
        target = f"{TARGET:.2f}" if is_command else ""
        print(f"{name:41} {best:7.3f} {median:7.3f} {target:>7} {best / floor:6.2f} "
              f"{best / package:7.2f}")
        if is_command and best > TARGET and not name.endswith("[before]"):
            over.append(name)
    print("over target: " + (", ".join(over) if over else "none"))
    for cmd in COMMANDS:
        print(f"heaviest imports of swarmdeck {' '.join(cmd)} (one run):")
        for name, seconds in heaviest_imports([*swarmdeck, *cmd]):
            print(f"  {seconds * 1000:7.1f} ms  {name}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
