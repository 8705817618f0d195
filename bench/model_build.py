"""What do swarmdeck's pydantic models cost when their module is imported?

pydantic builds each model's validator when its class is created, at import. Declaring a
model `defer_build=True` moves that build to the model's first validation: it saves the
build for a command that imports the model but never validates one, and costs the same (a
little more, measured) for a command that does. This prints, per model, the time its class
creation takes (min over N fresh processes, pydantic's own lazy imports paid beforehand),
and what `import swarmdeck.core.models`, `.events`, `.registries`, `.config` cost together:
the most `defer_build` could save for a command that validates none of them.

Run:  python bench/model_build.py [-n RUNS]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

MAX_RUNS = 50

PROBE = r"""
import json, time
from pydantic import BaseModel
from pydantic._internal._model_construction import ModelMetaclass

class Warm(BaseModel):  # pydantic imports its internals lazily, on the first model
    a: int = 0

created = {}
original = ModelMetaclass.__new__

def timed(mcs, name, bases, namespace, **kwargs):
    start = time.perf_counter()
    cls = original(mcs, name, bases, namespace, **kwargs)
    module = namespace.get("__module__", "?").rsplit(".", 1)[-1]
    created[f"{module}.{name}"] = time.perf_counter() - start
    return cls

ModelMetaclass.__new__ = timed
start = time.perf_counter()
import swarmdeck.core.models, swarmdeck.core.events, swarmdeck.core.registries
import swarmdeck.core.config
created["(the four modules, all in)"] = time.perf_counter() - start
print(json.dumps(created))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10, metavar="RUNS",
                        help=f"processes (default 10, at most {MAX_RUNS})")
    runs = max(1, min(parser.parse_args().n, MAX_RUNS))
    best: dict[str, float] = {}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             check=True).stdout
        for name, seconds in json.loads(out).items():
            best[name] = min(seconds, best.get(name, seconds))
    whole = best.pop("(the four modules, all in)")
    print(f"class creation, min of {runs} processes:")
    for name, seconds in sorted(best.items(), key=lambda item: -item[1]):
        print(f"  {seconds * 1000:6.1f} ms  {name}")
    print(f"  {sum(best.values()) * 1000:6.1f} ms  all models")
    print(f"  {whole * 1000:6.1f} ms  importing the four modules (models, events, registries, "
          f"config), their other imports included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
