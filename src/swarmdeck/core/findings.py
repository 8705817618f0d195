"""What the doctor reports: one finding is a severity, the check that found it, what it is
about, what is wrong, why it matters, and what to do. Its own module so that the checks
(core.doctor, core.doctor_images) share it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: Severity
    check: str  # stable id of the check: managers.count, service.placement...
    subject: str  # what it is about: "cluster", "node prod-w1", "service shop_web"
    what: str
    why: str
    fix: str
