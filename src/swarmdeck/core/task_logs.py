"""The last lines of ONE task (not following): what a failed or restarting replica said last.

Read from the engine of the node that ran it (its container, as `docker logs`), over the
node's SSH connection (core.node_links), when the cluster reads logs from nodes and the task
had a container; else, or when that node cannot be reached, through the manager's task log
stream (GET /tasks/ID/logs, which the swarm's log broker serves). Either way the lines are
tagged with the task, its node and service, and say where they were read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swarmdeck.core.errors import NotFound, SwarmdeckError
from swarmdeck.core.logs import LogLine, log_batches
from swarmdeck.core.replica_logs import container_log_batches


@dataclass
class TaskLines:
    lines: list[LogLine] = field(default_factory=list)
    source: str = ""  # where they were read: "node prod-w1", "the manager"
    note: str = ""  # why not from the node, when that was tried first


async def _collect(batches) -> list[LogLine]:
    out: list[LogLine] = []
    async for batch in batches:
        out.extend(batch)
    return out


async def recent_task_lines(inventory, links, task_id: str, *, tail: int = 50,
                            from_nodes: bool = True) -> TaskLines:
    """TAIL last lines of TASK_ID. INVENTORY: the cluster's ClusterInventory; LINKS: its
    NodeLinks (used when FROM_NODES)."""
    task = inventory.state.tasks.get(task_id)
    if task is None:
        raise NotFound(404, f"task {task_id[:12]} is no longer known to cluster "
                             f"{inventory.state.name}")
    session = await inventory.connect()
    found = TaskLines()
    if from_nodes and task.container_id and task.node_id:
        node = inventory.state.node_name(task.node_id)
        try:
            docker = await links.engine(task.node_id, session)
            found.lines = await _collect(container_log_batches(
                docker, task.container_id, follow=False, tail=tail))
            found.source = f"node {node}"
        except NotFound:
            found.note = f"its container is gone from {node}"
        except SwarmdeckError as exc:
            found.note = f"{node} could not be read ({exc})"
        else:
            return _tagged(found, task)
    params = {"stdout": True, "stderr": True, "timestamps": True, "details": True,
              "follow": False, "tail": str(tail)}
    found.lines = await _collect(log_batches(session.docker, f"/tasks/{task.id}/logs", params))
    found.source = "the manager"
    return _tagged(found, task)


def _tagged(found: TaskLines, task) -> TaskLines:
    for line in found.lines:
        line.task_id, line.node_id, line.service_id = task.id, task.node_id, task.service_id
    return found
