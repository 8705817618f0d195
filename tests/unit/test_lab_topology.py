"""The lab's address plan: every swarm's pools, the solo clusters' and the nodes' stay inside
10.213.0.0/16 and never overlap one another."""

from __future__ import annotations

import ipaddress

import pytest

from swarmdeck.core.errors import UsageError
from swarmdeck.lab.topology import (
    MAX_SOLO,
    NODE_ADDRESS_POOL,
    PREFIX_LEN,
    SUBNET_PREFIX,
    SWARM_POOLS,
    LabSpec,
    check_solo_names,
    solo_node,
    solo_pool,
)

LAB = ipaddress.ip_network("10.213.0.0/16")


def test_pools_are_inside_the_lab_range_and_disjoint():
    nets = [ipaddress.ip_network(p) for p in
            [*SWARM_POOLS, NODE_ADDRESS_POOL, f"{SUBNET_PREFIX}.0/{PREFIX_LEN}"]
            + [solo_pool(i) for i in range(MAX_SOLO)]]
    assert all(n.subnet_of(LAB) for n in nets)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_solo_nodes_take_addresses_no_lab_node_has():
    spec = LabSpec()
    taken = {n.address for n in spec.nodes()}
    solos = [solo_node(f"solo{i}", i) for i in range(MAX_SOLO)]
    assert not taken & {n.address for n in solos}
    assert len({n.address for n in solos}) == MAX_SOLO
    assert solos[0].name == "solo0-m1" and solos[0].cluster == "solo0"


@pytest.mark.parametrize(("names", "taken", "existing", "message"), [
    (["Prod"], [], 0, "bad solo cluster name"),
    (["prod"], ["prod"], 0, "already has a cluster named 'prod'"),
    (["a1", "a1"], [], 0, "different name"),
    (["a1", "a2"], [], MAX_SOLO - 1, f"at most {MAX_SOLO}"),
])
def test_bad_solo_names_are_refused_with_what_to_fix(names, taken, existing, message):
    with pytest.raises(UsageError, match=message):
        check_solo_names(names, taken, existing)
    check_solo_names(["a1"], taken, 0)  # a good one passes
