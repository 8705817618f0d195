"""The doctor screen on recorded lab data: findings worst first, coloured by severity, the
highlighted one explained, live updates, Esc back; certificates when a session exists."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from rich.console import Console
from ui_waits import wait_until

from swarmdeck.core.models import Node, Service
from swarmdeck.ui import clock
from swarmdeck.ui.screens.doctor import DoctorScreen
from swarmdeck.ui.screens.main import MainScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (120, 36)


def plain(widget) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()



def findings(app) -> LiveTable:
    return app.screen.query_one("#findings", LiveTable)


def column(app, key: str) -> list[str]:
    table = findings(app)
    return [table.get_cell(row, key).plain for row in table.rows]


async def open_doctor(app, pilot, cluster: str = "staging") -> None:
    await pilot.pause()
    app.push_screen(DoctorScreen(cluster))
    assert await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen)
                            and bool(app.screen.query("#findings")))
    await pilot.pause()


async def test_lists_findings_worst_first_and_explains_the_highlighted_one(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_doctor(app, pilot)
        assert column(app, "severity") == ["WARNING", "WARNING"]
        assert column(app, "subject") == ["cluster", "network shop_default"]
        assert findings(app).get_cell(findings(app).rows[0], "severity").style == "bold yellow"
        assert "Doctor · staging · 2 warnings" in findings(app).border_title
        assert app.screen.focused is findings(app)
        detail = plain(app.screen.query_one("#finding"))
        assert "1 manager: the swarm tolerates no manager failure" in detail
        assert "1 tolerates 0" in detail and "docker node promote" in detail
        await pilot.press("j")
        assert "--opt encrypted shop_default" in plain(app.screen.query_one("#finding"))
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_follows_the_inventory(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_doctor(app, pilot)
        state = fleet.states["staging"]
        state.services["doc-x"] = Service(
            id="doc-x", name="doc-x", mode="replicated", replicas=1,
            image="10.213.0.1:5000/swarmdeck/demo:1.0",
            constraints=["node.labels.doc-none==yes"])
        fleet.emit("staging", "services")
        assert await wait_until(pilot, lambda: column(app, "severity")[:2] == ["ERROR",
                                                                               "ERROR"])
        assert findings(app).get_cell(findings(app).rows[0], "severity").style == "bold red"
        whats = column(app, "what")
        assert "doc-x: nodes missing labels that placement constraints need " \
               "(node.labels.doc-none==yes)" in whats
        assert "doc-x: 0 of 1 replicas running" in whats
        del state.services["doc-x"]
        fleet.emit("staging", "services")
        assert await wait_until(pilot, lambda: column(app, "severity") == ["WARNING",
                                                                           "WARNING"])


async def test_text_from_the_cluster_is_inert(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        state = fleet.states["staging"]
        worker = next(n for n in state.nodes.values() if n.role == "worker")
        state.nodes[worker.id] = worker.model_copy(update={
            "hostname": "w\x1b]0;pwned\x07", "availability": "drain"})
        await open_doctor(app, pilot)
        subjects = column(app, "subject")
        assert "node w<ESC>]0;pwned<BEL>" in subjects
        row = findings(app).rows[subjects.index("node w<ESC>]0;pwned<BEL>")]
        findings(app).move_cursor(row=findings(app).rows.index(row))
        await pilot.pause()
        pane = app.screen.query_one("#finding")
        assert "\x1b" not in plain(pane) and "<ESC>" in plain(pane)
        assert "\x1b" not in str(pane.border_title)


def give_session(fleet, swarm: dict) -> list[str]:
    """Give the recorded fleet what the live one has: inventory(name).session.docker,
    answering the doctor's extra fetch. Returns the paths asked for."""
    asked: list[str] = []
    answers = {"/swarm": swarm, "/nodes": []}

    async def get(path: str, **params):
        asked.append(path)
        return answers[path]

    session = SimpleNamespace(closed=False, docker=SimpleNamespace(get=get))
    fleet.inventory = lambda name: SimpleNamespace(session=session)
    return asked


def expiring_ca(days: int) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swarm-ca")])
    now = datetime.fromtimestamp(clock.now(), UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - timedelta(days=300))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


async def test_certificates_come_from_the_live_session(make_app, fleet):
    asked = give_session(fleet, {"TLSInfo": {"TrustRoot": expiring_ca(12)}})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_doctor(app, pilot)
        assert await wait_until(pilot, lambda: "certificate.expiry" in {
            f.check for f in app.screen.findings.values()})
        assert sorted(asked) == ["/nodes", "/swarm"]
        assert any(what.startswith("the swarm root CA certificate expires in 12 days")
                   for what in column(app, "what"))
        await pilot.press("r")
        assert await wait_until(pilot, lambda: len(asked) == 4)


async def test_a_cluster_still_connecting(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        fleet.states["staging"].loaded_at = None
        await open_doctor(app, pilot)
        assert findings(app).rows == []
        assert "connecting" in plain(app.screen.query_one("#finding"))
        fleet.states["staging"].loaded_at = clock.now()
        fleet.states["staging"].nodes["extra"] = Node(
            id="extra", hostname="staging-w9", role="worker", availability="active",
            status="down", engine_version="20.10.24+dfsg1")
        fleet.emit("staging", "nodes")
        assert await wait_until(pilot, lambda: "node staging-w9" in column(app, "subject"))
