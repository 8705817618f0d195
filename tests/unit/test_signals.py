"""core.signals: the nodes a cluster's inventory already knows when the wiring is made are
sampled at once (the console loads its first cluster early, while Textual imports: the
"loaded" change came before anyone listened, and its nodes were never sampled until a
node changed). The lab test starts the console that way and sees the samples."""

from __future__ import annotations

from types import SimpleNamespace

from swarmdeck.core.signals import ClusterSignals


class Inventory:
    def __init__(self) -> None:
        self.listeners: list = []
        self.tasks_watched = None

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def tasks_due(self) -> None:
        pass


class Collector:
    def __init__(self) -> None:
        self.synced = 0
        self.metrics = SimpleNamespace(on_containers_changed=None)

    def sync(self) -> None:
        self.synced += 1

    def watches_all_nodes(self) -> bool:
        return False


def test_nodes_known_before_the_wiring_are_sampled_at_once():
    inventory, collector = Inventory(), Collector()
    signals = ClusterSignals(inventory, collector)  # type: ignore[arg-type]
    signals.connect()
    assert collector.synced == 1
    inventory.listeners[0](SimpleNamespace(kind="nodes"))  # and on every node change after
    assert collector.synced == 2
    signals.disconnect()
    assert inventory.listeners == []
