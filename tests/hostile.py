"""Text a hostile cluster sends, and recorded lab states carrying it in every name, label,
image and error, for the tests that check no output path lets it reach a terminal raw.
(Importable from unit and UI tests alike: tests/ is on sys.path through its conftest.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import strategies as st

from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Network, Node, Service, SwarmInfo, Task

FIXTURES = Path(__file__).parent / "fixtures"

CONTROLS = {chr(c) for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)]}
# bidi embeddings, overrides and isolates, LRM, RLM, ALM, zero-width characters
INVISIBLE = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F,
                              0x061C, *range(0x200B, 0x200E), 0x2060, 0xFEFF]}
DANGEROUS = CONTROLS | INVISIBLE

# what attackers send: escape sequences (CSI, OSC title and clipboard, DCS, APC), the one-byte
# C1 CSI, a bare CR, DEL, a right-to-left override, isolates, marks and zero-width characters
SNIPPETS = ["\x1b]0;title\x07", "\x1b]52;c;aGk=\x07", "\x1b[2J", "\x9b31m", "\x1bP+q\x1b\\",
            "\x1b_apc\x1b\\", "ok\rEVIL", "\x7f", "\x85", "\u202egpj.exe", "a\u2066b\u2069",
            "\u200e\u200f\u061c", "zero\u200bwidth\u200c\u200d", "\u2060\ufeff", "\u202a\u202d"]
ALL = "".join(SNIPPETS) + "".join(sorted(DANGEROUS))

nasty = st.one_of(
    st.text(),
    st.sampled_from(SNIPPETS),
    st.lists(st.sampled_from(sorted(DANGEROUS)), min_size=1, max_size=6).map("".join),
    st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
)
# one string with some of everything, for paths too slow to feed many examples
hostile = st.lists(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=8)),
                   min_size=1, max_size=6).map("".join)


def inert(text: str, allowed: set[str] | frozenset[str] = frozenset()) -> bool:
    """TEXT holds no control character (but ALLOWED), bidi control or zero-width one."""
    return not (set(text) - set(allowed)) & DANGEROUS


def raw_found(text: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The dangerous characters TEXT holds, as U+ codes (for a readable assertion)."""
    return sorted(f"U+{ord(c):04X}" for c in (set(text) - set(allowed)) & DANGEROUS)


def recorded(name: str) -> ClusterState:
    """A cluster as the lab recorded it (tests/fixtures/lab_NAME)."""
    folder = FIXTURES / f"lab_{name}"

    def load(part: str):
        return json.loads((folder / f"{part}.json").read_text())

    state = ClusterState(name)
    state.nodes = {n.id: n for n in map(Node.from_api, load("nodes"))}
    state.services = {s.id: s for s in map(Service.from_api, load("services"))}
    state.tasks = {t.id: t for t in map(Task.from_api, load("tasks"))}
    state.networks = {n.id: n for n in map(Network.from_api, load("networks"))}
    state.info = SwarmInfo.from_api(load("info"))
    state.manager = f"{name}-m1 (root@lab)"
    state.connected = True
    state.loaded_at = 1.0
    return state


def tainted(state: ClusterState, text: str) -> ClusterState:
    """STATE with TEXT in every name, label, image, address, message and error a cluster
    could send (same IDs, so the rows and links stay as recorded)."""
    out = state.snapshot()
    out.services = {k: s.model_copy(update={
        "name": f"{s.name}{text}", "image": f"{s.image}{text}",
        "stack": f"{s.stack}{text}" if s.stack else None,
        "labels": {**s.labels, f"note{text}": text},
        "constraints": [*s.constraints, f"node.labels.zone{text}=={text}"],
        "update_state": text or None, "update_message": text}) for k, s in state.services.items()}
    out.nodes = {k: n.model_copy(update={
        "hostname": f"{n.hostname}{text}", "labels": {**n.labels, f"zone{text}": text},
        "engine_version": f"{n.engine_version}{text}", "address": f"{n.address}{text}",
        "status_message": text, "availability": f"{n.availability}{text}",
        "status": f"{n.status}{text}",
        "reachability": f"{n.reachability}{text}" if n.reachability else None})
        for k, n in state.nodes.items()}
    out.tasks = {k: t.model_copy(update={"error": f"boom{text}", "message": text,
                                         "state": f"{t.state}{text}",
                                         "image": f"{t.image}{text}"})
                 for k, t in state.tasks.items()}
    out.networks = {k: n.model_copy(update={"name": f"{n.name}{text}"})
                    for k, n in state.networks.items()}
    out.manager = f"{state.manager}{text}"
    return out
