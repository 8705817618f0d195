"""Changes to a cluster, one module per family: services (scale, update, restart, rollback,
remove), nodes (availability, role, labels, remove, add), tokens, deploy. Every change goes
through ClusterOps.guarded: refused when read-only, recorded in the audit log either way."""
