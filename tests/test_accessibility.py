"""The app as a screen reader sees it: read through AT-SPI, the way Orca reads it.

Set-up (all real, nothing mocked): a private D-Bus session (``dbus-run-session``), the
pytest-xvfb X server, the openbox window manager, the AT-SPI bus
(``at-spi-bus-launcher`` with ``at-spi2-registryd``), the real app (real engine and Rasa)
on ``xcb`` with ``QT_ACCESSIBILITY=1`` / ``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1``, and an
AT-SPI client on the *system* Python (``/usr/bin/python3`` with ``python3-pyatspi`` from
apt; PyGObject is not in the app's venv). Keys are pressed with ``xdotool``.

Three processes run this file:

* ``python tests/test_accessibility.py app``: the app (venv Python). It reads commands on
  stdin and prints ``@@{json}`` lines: among them the *ground truth* of each window, i.e.
  every interactive control with its Qt class, its visible label, its screen rectangle.
* ``/usr/bin/python3 tests/test_accessibility.py client``: the AT-SPI client. It records
  AT-SPI events (focus, name and value changes, announcements) and dumps the accessible
  tree of a window as JSON on request.
* pytest: matches AT-SPI objects to the app's controls by their screen rectangle and
  asserts what a screen-reader user gets: role, name (= the visible label), slider values
  with their unit, status texts and state changes as events, Tab order and no focus trap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from ui_helpers import ROOT, JsonLinesProcess, emit


# ======================================================================================
# the app (venv Python, xcb, accessibility on)
# ======================================================================================


def _kind(w) -> str:
    from PySide6.QtWidgets import (QAbstractSlider, QAbstractSpinBox, QCheckBox, QComboBox, QLineEdit, QListView,
                                   QPlainTextEdit, QPushButton, QTableView, QTextEdit, QToolButton)

    if isinstance(w, QPushButton) and w.isCheckable():
        return "toggle button"  # the Dictate button: on while dictating
    for cls, kind in ((QCheckBox, "check box"), (QPushButton, "push button"), (QToolButton, "push button"),
                      (QComboBox, "combo box"), (QAbstractSlider, "slider"), (QAbstractSpinBox, "spin button"),
                      (QLineEdit, "text"), (QPlainTextEdit, "text"), (QTextEdit, "text"), (QTableView, "table"),
                      (QListView, "list")):
        if isinstance(w, cls):
            return kind
    return type(w).__name__


def ground_truth(top) -> dict:
    """Every visible, enabled Tab stop under the window ``top`` with what a sighted user sees:
    its kind, its visible label (button text, or the text of the label whose buddy it is),
    its screen rectangle; the status labels with their text; the mnemonics in use."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

    from ui.a11y import StatusLabel, is_interactive, is_internal, plain

    buddies = {}
    mnemonics = []
    for lab in top.findChildren(QLabel):
        if lab.isVisibleTo(top) and lab.buddy() is not None:
            buddies[id(lab.buddy())] = lab.text()
            mnemonics.append(lab.text())
    controls, statuses = [], []
    for w in [*top.findChildren(QWidget)]:
        if not w.isVisibleTo(top) or w.window() is not top:
            continue
        if isinstance(w, StatusLabel):
            statuses.append({"text": w.text(), "rect": _rect(w)})
            continue
        if not is_interactive(w) or is_internal(w):
            continue
        if not (w.focusPolicy() & Qt.FocusPolicy.TabFocus) or not w.isEnabled():
            continue
        c = {"kind": _kind(w), "cls": type(w).__name__, "rect": _rect(w), "name": w.accessibleName()}
        if isinstance(w, QAbstractButton):
            c["label"] = plain(w.text())
            mnemonics.append(w.text())
        elif id(w) in buddies:
            c["label"] = plain(buddies[id(w)])
        if c["kind"] == "slider":
            row = w.parentWidget()
            c["value"] = w.value()
            c["min"], c["max"] = w.minimum(), w.maximum()
            c["text"] = row.text() if hasattr(row, "text") else ""
            c["shown"] = row.value_label.text() if hasattr(row, "value_label") else ""
        if c["kind"] == "combo box":
            c["current"] = w.currentText()
        controls.append(c)
    keys = []
    for text in mnemonics:
        t = text.replace("&&", "")
        i = t.find("&")
        if 0 <= i < len(t) - 1:
            keys.append(t[i + 1].lower())
    return {"title": top.windowTitle(), "controls": controls, "statuses": statuses, "mnemonics": keys}


def _rect(w) -> list[int]:
    from PySide6.QtCore import QPoint

    p = w.mapToGlobal(QPoint(0, 0))
    return [p.x(), p.y(), w.width(), w.height()]


def mode_app() -> int:
    """The real app over the real engine; commands on stdin, one per line (JSON)."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    app.setApplicationName("offline-assistant")
    app.setApplicationDisplayName("Assistant")
    app.setQuitOnLastWindowClosed(False)
    from assistant.audio import BufferSink
    from assistant.pipeline import Assistant
    from assistant.settings import Settings
    from ui.controller import EngineController
    from ui.main_window import MainWindow
    from ui.theme import apply_theme

    apply_theme(app)
    assistant = Assistant(Settings(), sink=BufferSink())
    controller = EngineController(assistant=assistant, listen=False)
    window = MainWindow(controller, global_hotkey=False, tray=False, quit_on_close=False)
    window.resize(760, 720)
    window.show()
    controller.ready.connect(lambda: emit(event="ready"))
    controller.start_failed.connect(lambda m, h: emit(event="start_failed", message=m, hint=h))
    controller.request_done.connect(lambda *_: emit(event="request_done"))
    state = {"dlg": None}

    def handle(cmd: dict) -> dict:
        op = cmd["op"]
        if op == "start":
            controller.start()
        elif op == "truth":
            top = window if cmd.get("window") == "main" else state["dlg"]
            app.processEvents()
            return dict(event="truth", **ground_truth(top))
        elif op == "ask":
            window.input.setText(cmd["text"])
            window.submit_text()
        elif op == "settings":
            dlg = state["dlg"] = window.open_settings()
            dlg.resize(980, 720)
            return dict(event="settings", skills=dlg.skills_page.skills_list.count())
        elif op == "skills_loaded":
            return dict(event="skills_loaded", n=state["dlg"].skills_page.skills_list.count(),
                        devices="Listing" not in state["dlg"].audio_page.mic_status.text())
        elif op == "page":
            dlg = state["dlg"]
            dlg.go_page(cmd["page"])
            dlg.activateWindow()
            dlg.pages.setFocus()
            return dict(event="page", page=dlg.current_page())
        elif op == "focus_main":
            window.activateWindow()
            window.input.setFocus()
            return dict(event="focus_main")
        elif op == "close_settings":
            state["dlg"].reject()
            return dict(event="closed")
        elif op == "quit":
            window.quitting = True
            window.close()
            assistant.close()
            app.quit()
        return {}

    def poll_stdin() -> None:
        import select

        while select.select([sys.stdin], [], [], 0)[0]:
            line = sys.stdin.readline()
            if not line:
                app.quit()
                return
            if line.strip():
                cmd = json.loads(line)
                try:
                    emit(id=cmd.get("id"), **handle(cmd))
                except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
                    emit(event="error", error=repr(exc))

    t = QTimer()
    t.timeout.connect(poll_stdin)
    t.start(50)
    emit(event="shown", pid=os.getpid())
    return app.exec()


# ======================================================================================
# the AT-SPI client (system Python with python3-pyatspi)
# ======================================================================================


def mode_client() -> int:
    """Record AT-SPI events and dump accessible trees on request (stdin JSON commands)."""
    import pyatspi
    from gi.repository import GLib

    events: list[dict] = []
    focus: dict = {}

    def info(acc, deep: bool = False) -> dict:
        d = {"role": acc.getRoleName(), "name": acc.name or "", "description": acc.description or ""}
        try:
            ext = acc.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
            d["rect"] = [ext.x, ext.y, ext.width, ext.height]
        except NotImplementedError:
            d["rect"] = None
        if not deep:
            return d
        states = acc.getState()
        d["states"] = [pyatspi.stateToString(s) for s in states.getStates()]
        try:
            v = acc.queryValue()
            d["value"] = {"current": v.currentValue, "min": v.minimumValue, "max": v.maximumValue,
                          "step": v.minimumIncrement}
        except NotImplementedError:
            pass
        try:
            t = acc.queryText()
            d["text"] = t.getText(0, t.characterCount)
        except NotImplementedError:
            pass
        rel = {}
        for r in acc.getRelationSet():
            rel.setdefault(r.getRelationType().value_nick, []).extend(
                (r.getTarget(i).name or "") for i in range(r.getNTargets()))
        d["relations"] = rel
        try:
            a = acc.queryAction()
            d["keybinding"] = a.getKeyBinding(0) if a.nActions else ""
        except NotImplementedError:
            pass
        return d

    def on_event(ev) -> None:
        rec = {"type": ev.type, "detail1": ev.detail1, "data": ev.any_data if isinstance(ev.any_data, str) else None}
        try:
            rec.update(info(ev.source))
        except Exception as exc:  # noqa: BLE001 - the object may be gone already
            rec["error"] = repr(exc)
        events.append(rec)
        if ev.type.startswith("object:state-changed:focused") and ev.detail1:
            focus.clear()
            focus.update(rec, n=len(events))

    pyatspi.Registry.registerEventListener(
        on_event, "object:state-changed:focused", "object:property-change:accessible-name",
        "object:property-change:accessible-value", "object:announcement", "object:property-change:accessible-description")

    def app_acc(name: str):
        desktop = pyatspi.Registry.getDesktop(0)
        for i in range(desktop.childCount):
            a = desktop.getChildAtIndex(i)
            if a is not None and (a.name or "") == name:
                return a
        return None

    def dump(acc, path: str, out: list, depth: int = 0) -> None:
        d = info(acc, deep=True)
        d["path"] = path
        out.append(d)
        if depth > 40 or d["role"] in ("table cell", "list item") and depth > 0:
            return
        n = acc.childCount
        if d["role"] in ("table", "list") and n > 60:
            n = 60
        for i in range(n):
            c = acc.getChildAtIndex(i)
            if c is not None:
                dump(c, f"{path}/{i}", out, depth + 1)

    def handle(cmd: dict) -> dict:
        op = cmd["op"]
        if op == "apps":
            desktop = pyatspi.Registry.getDesktop(0)
            return {"apps": [(desktop.getChildAtIndex(i).name or "") for i in range(desktop.childCount)
                             if desktop.getChildAtIndex(i) is not None]}
        if op == "tree":
            a = app_acc(cmd["app"])
            if a is None:
                return {"error": "app not found"}
            for i in range(a.childCount):
                w = a.getChildAtIndex(i)
                if w is not None and (w.name or "").startswith(cmd["window"]) and w.getState().contains(
                        pyatspi.STATE_SHOWING):
                    out: list = []
                    dump(w, str(i), out)
                    return {"tree": out}
            return {"error": "window not found",
                    "windows": [(a.getChildAtIndex(i).name or "") for i in range(a.childCount)]}
        if op == "events":
            return {"events": events[cmd.get("since", 0):], "n": len(events)}
        if op == "focus":
            return {"focus": dict(focus)}
        return {"error": f"unknown op {op}"}

    def on_stdin(source, condition) -> bool:
        line = sys.stdin.readline()
        if not line:
            loop.quit()
            return False
        if line.strip():
            cmd = json.loads(line)
            try:
                res = handle(cmd)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                res = {"error": repr(exc)}
            emit(id=cmd.get("id"), **res)
        return True

    loop = GLib.MainLoop()
    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)
    emit(event="client-ready")
    loop.run()
    return 0


def mode_bus() -> int:
    """Runs inside ``dbus-run-session``: report the session bus address, live until stdin ends."""
    emit(address=os.environ["DBUS_SESSION_BUS_ADDRESS"])
    sys.stdin.read()
    return 0


# ======================================================================================
# the tests (pytest's process)
# ======================================================================================

if __name__ != "__main__":
    import pytest

    pytestmark = [pytest.mark.gui, pytest.mark.rasa]

    SYSTEM_PYTHON = "/usr/bin/python3"

    class Proc(JsonLinesProcess):
        """A child process of the AT-SPI session (see :class:`ui_helpers.JsonLinesProcess`)."""

    def poll(fn, timeout: float, step: float = 0.2):
        """Call ``fn`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
        deadline = time.monotonic() + timeout
        while True:
            res = fn()
            if res or time.monotonic() > deadline:
                return res
            time.sleep(step)

    class Session:
        """The D-Bus session, window manager, AT-SPI bus, app and client of the module."""

        app: Proc
        client: Proc
        env: dict
        xenv: dict

        def tree(self, window: str) -> list[dict]:
            res = poll(lambda: self.client.call(op="tree", app="offline-assistant", window=window).get("tree"), 60, 0.5)
            assert res, f"no AT-SPI window {window!r}"
            return res

        def truth(self, window: str) -> dict:
            return self.app.call(op="truth", window=window, timeout=60)

        def key(self, *keys: str) -> None:
            subprocess.run(["xdotool", "key", "--delay", "60", *keys], env=self.xenv, check=True, timeout=30)

        def events_since(self, n: int) -> list[dict]:
            return self.client.call(op="events", since=n)["events"]

        def n_events(self) -> int:
            return self.client.call(op="events", since=10**9)["n"]

        def wait_event(self, since: int, pred, timeout: float = 60) -> dict | None:
            def find():
                for ev in self.events_since(since):
                    if pred(ev):
                        return ev
                return None

            return poll(find, timeout, 0.3)

    @pytest.fixture(scope="module")
    def session(xvfb, tmp_path_factory):
        display = f":{xvfb.display}" if not str(xvfb.display).startswith(":") else str(xvfb.display)
        tmp = tmp_path_factory.mktemp("atspi")
        base = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "AT_SPI_BUS_ADDRESS")}
        base.update(DISPLAY=display, NO_AT_BRIDGE="0")
        procs: list = []
        s = Session()
        bus = Proc("dbus-run-session", ["dbus-run-session", "--", sys.executable, __file__, "bus"], base)
        procs.append(bus)
        try:
            addr = bus.wait_for(lambda m: "address" in m, 60, "session bus address")["address"]
            env = dict(base, DBUS_SESSION_BUS_ADDRESS=addr)
            s.xenv = env
            procs.append(subprocess.Popen(["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen(["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            # the a11y bus is up once org.a11y.Bus answers GetAddress on the session bus
            got = poll(lambda: subprocess.run(
                ["dbus-send", "--session", "--print-reply", "--dest=org.a11y.Bus", "/org/a11y/bus",
                 "org.a11y.Bus.GetAddress"], env=env, capture_output=True, text=True).stdout.count("unix:"), 60, 0.3)
            assert got, "the AT-SPI bus did not start"
            s.client = Proc("client", [SYSTEM_PYTHON, __file__, "client"], env)
            procs.append(s.client)
            s.client.wait_for(lambda m: m.get("event") == "client-ready", 60, "AT-SPI client")
            app_env = dict(env, QT_QPA_PLATFORM="xcb", QT_ACCESSIBILITY="1", QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1",
                           PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", ASSISTANT_CONFIG_DIR=str(tmp / "config"),
                           ASSISTANT_DATA_DIR=str(tmp / "data"))
            s.env = app_env
            s.app = Proc("app", [sys.executable, __file__, "app"], app_env)
            procs.append(s.app)
            s.app.wait_for(lambda m: m.get("event") == "shown", 120, "window shown")
            apps = poll(lambda: "offline-assistant" in s.client.call(op="apps")["apps"], 120, 0.5)
            assert apps, "the app never registered on the AT-SPI bus"
            s.startup_events = s.n_events()
            s.app.send(op="start")
            ready = s.app.wait_for(lambda m: m.get("event") in ("ready", "start_failed"), 900, "engine ready")
            assert ready["event"] == "ready", ready
            yield s
        finally:
            for p in reversed(procs):
                if isinstance(p, Proc):
                    if p is getattr(s, "app", None) and p.proc.poll() is None:
                        try:
                            p.send(op="quit")
                        except OSError:
                            pass
                    p.close()
                else:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()

    # --------------------------------------------------------------------------- helpers

    ROLES = {  # Qt widget kind -> AT-SPI role names it may have
        "push button": {"push button"}, "check box": {"check box"}, "combo box": {"combo box"},
        # Qt 6 reports a checkable QPushButton as a check box (screen readers then say
        # "checked"/"not checked", which is what a toggle needs)
        "toggle button": {"toggle button", "check box"},
        "slider": {"slider"}, "spin button": {"spin button"}, "text": {"text", "entry"}, "list": {"list"},
        "table": {"table"},
    }

    def match(tree: list[dict], rect: list[int], roles: set[str] | None = None) -> dict | None:
        """The AT-SPI object whose top-left corner is ``rect``'s (±2 px), preferring one of
        ``roles`` and then the same size (Qt may report the size a layout gave before the
        last resize; the position is what tells controls apart)."""
        hits = [n for n in tree if n.get("rect") and all(abs(a - b) <= 2 for a, b in zip(n["rect"][:2], rect[:2]))]
        hits.sort(key=lambda n: sum(abs(a - b) for a, b in zip(n["rect"][2:], rect[2:])))
        if roles:
            hits = [n for n in hits if n["role"] in roles] or hits
        return hits[0] if hits else None

    def check_controls(truth: dict, tree: list[dict]) -> list[str]:
        """Role, name and value problems of every control in ``truth``; empty = all good."""
        problems = []
        for c in truth["controls"]:
            node = match(tree, c["rect"], ROLES.get(c["kind"]))
            where = f"{c['cls']} {c.get('label') or c['name']!r} at {c['rect']}"
            if node is None:
                same = [(n["role"], n["rect"]) for n in tree if n["name"] == c.get("label", c["name"])]
                problems.append(f"{where}: not found through AT-SPI (objects of that name: {same})")
                continue
            if node["role"] not in ROLES.get(c["kind"], {c["kind"]}):
                problems.append(f"{where}: role {node['role']!r}, expected {c['kind']!r}")
            label = c.get("label")
            if c["kind"] == "combo box":
                # Qt on Linux names a combo box by its current value (by design: Orca reads the
                # value as the name) and gives the label through the labelled-by relation.
                labels = [x.rstrip(":").strip() for x in node["relations"].get("labelled-by", [])]
                if label and label not in labels:
                    problems.append(f"{where}: labelled-by {labels}, expected {label!r}")
                if node["name"] != c["current"]:
                    problems.append(f"{where}: name {node['name']!r}, expected the current value {c['current']!r}")
            elif label is not None and node["name"] != label:
                problems.append(f"{where}: accessible name {node['name']!r} differs from the visible label {label!r}")
            elif not node["name"]:
                problems.append(f"{where}: no accessible name")
            if c["kind"] == "slider":
                v = node.get("value")
                if v is None or abs(v["current"] - c["value"]) > 1e-6 or v["min"] != c["min"] or v["max"] != c["max"]:
                    problems.append(f"{where}: AT-SPI value {v}, expected {c['value']} in [{c['min']}, {c['max']}]")
                if not node["description"].startswith(c["text"] + ".") or c["shown"] != c["text"]:
                    problems.append(f"{where}: description {node['description']!r} does not start with the value "
                                    f"and unit shown ({c['shown']!r})")
        for st in truth["statuses"]:
            if not st["text"]:
                continue
            node = match(tree, st["rect"], {"label"})
            if node is None or node["name"] != st["text"]:
                problems.append(f"status {st['text']!r}: AT-SPI says {node and node['name']!r}")
        return problems

    def mnemonic_clashes(keys: list[str]) -> list[str]:
        return sorted({k for k in keys if keys.count(k) > 1})

    # --------------------------------------------------------------------------- tests

    def test_main_window_controls_state_and_replies_reach_the_screen_reader(session):
        s = session
        truth = s.truth("main")
        tree = s.tree("Assistant")
        problems = check_controls(truth, tree)
        assert not problems, "\n".join(problems)
        assert {c["kind"] for c in truth["controls"]} >= {"push button", "text", "list"}
        assert mnemonic_clashes(truth["mnemonics"]) == [], truth["mnemonics"]
        frame = tree[0]
        assert frame["role"] == "frame" and frame["name"] == truth["title"] == "Assistant — Idle", frame
        # start-up: the state label's name changed to "Idle" (an event a screen reader hears)
        # and the state was announced
        evs = s.events_since(0)
        assert any(e["type"].startswith("object:property-change:accessible-name") and e["name"] == "Idle"
                   for e in evs), [e for e in evs if "name" in e["type"]][-20:]
        # a typed request: the state goes Thinking/Speaking then Idle, each a name change of the
        # state label and of the window, and announced; the reply is announced
        n = s.n_events()
        s.app.send(op="ask", text="what time is it")
        s.app.wait_for(lambda m: m.get("event") == "request_done", 300, "the reply")
        idle = s.wait_event(n, lambda e: e["type"].startswith("object:property-change:accessible-name")
                            and e["role"] == "frame" and e["name"] == "Assistant — Idle", 60)
        evs = s.events_since(n)
        names = [e["name"] for e in evs if e["type"].startswith("object:property-change:accessible-name")
                 and e["role"] == "label"]
        frames = [e["name"] for e in evs if e["type"].startswith("object:property-change:accessible-name")
                  and e["role"] == "frame"]
        spoken = [e["data"] for e in evs if e["type"].startswith("object:announcement")]
        assert idle, f"window names: {frames}"
        busy = [x for x in names if x in ("Thinking", "Speaking")]
        assert busy and names[-1] == "Idle", names
        assert f"Assistant — {busy[0]}" in frames, frames
        assert busy[0] in spoken and spoken.index(busy[0]) < len(spoken), spoken
        assert any(t and t.startswith("Assistant, ") and "It's" in t for t in spoken), spoken

    PAGES = ("Microphone", "Voice", "Wake word", "Speech recognition", "Hotkey", "Dictation", "Skills",
             "Latency tracing", "Appearance")

    def test_every_settings_page_names_its_controls_and_values(session):
        s = session
        s.app.call(op="settings")
        assert poll(lambda: (lambda r: r["n"] > 0 and r["devices"])(s.app.call(op="skills_loaded")), 120, 0.5)
        kinds = set()
        for page in PAGES:
            s.app.call(op="page", page=page)
            truth = s.truth("settings")
            tree = s.tree("Assistant settings")
            problems = check_controls(truth, tree)
            assert not problems, f"page {page}:\n" + "\n".join(problems)
            assert mnemonic_clashes(truth["mnemonics"]) == [], (page, truth["mnemonics"])
            kinds |= {c["kind"] for c in truth["controls"]}
            if page == "Microphone":
                gain = next(c for c in truth["controls"] if c.get("label") == "Input gain")
                assert gain["text"] == "+0 dB" and gain["value"] == 0, gain
                status = [st["text"] for st in truth["statuses"] if "microphone" in st["text"].lower()]
                assert status and any(n["name"] == status[0] for n in tree), status
            if page == "Voice":
                speed = next(c for c in truth["controls"] if c.get("label") == "Speed")
                assert speed["text"] == "100 %" and speed["value"] == 100, speed
            if page == "Latency tracing":
                stages = [n for n in tree if n["role"] == "table" and n["name"] == "Stages"]
                assert stages, "the timeline's text alternative (Stages table) is missing"
                timeline = [n for n in tree if n["name"] == "Latency timeline"]
                assert timeline and "focusable" not in timeline[0]["states"], timeline
                # the first test's request is in the table: its stages are walkable cells
                cells = [n["name"] for n in tree if n["role"] == "table cell" and n["path"].startswith(
                    stages[0]["path"] + "/")]
                assert "nlu" in cells and any(c.endswith(" ms") for c in cells), cells
        assert kinds >= {"push button", "check box", "combo box", "slider", "spin button", "list"}, kinds

    def _on_page_list(f: dict) -> bool:
        """The focus is on the settings page list (the list, or its current item)."""
        return f.get("name") == "Settings pages" or (f.get("role") == "list item"
                                                     and f.get("name", "").endswith("settings page"))

    def _tab_walk(s: Session, start_name: str, limit: int = 60) -> list[dict]:
        """Press Tab until the focus is back on the page list; the focused objects in order
        (AT-SPI focus events)."""
        seen = []
        last = s.client.call(op="focus")["focus"].get("n", 0)
        for _ in range(limit):
            s.key("Tab")
            f = poll(lambda: (lambda f: f if f.get("n", 0) > last else None)(s.client.call(op="focus")["focus"]),
                     20, 0.1)
            assert f, f"Tab moved no focus after {[x['name'] for x in seen]}"
            last = f["n"]
            seen.append(f)
            if _on_page_list(f):
                return seen
        pytest.fail(f"Tab never came back to {start_name!r}: a focus trap? {[x['name'] for x in seen]}")

    def _visual_order_problems(stops: list[dict]) -> list[str]:
        out = []
        for a, b in zip(stops, stops[1:]):
            ax, ay, aw, ah = a["rect"]
            bx, by, bw, bh = b["rect"]
            same_row = by < ay + ah and ay < by + bh
            if (same_row and bx < ax) or (not same_row and by + bh <= ay):
                out.append(f"{b['name']!r} at {b['rect']} comes after {a['name']!r} at {a['rect']}")
        return out

    def test_tab_reaches_every_control_in_visual_order_and_never_traps(session):
        s = session
        s.app.call(op="settings")
        for page in PAGES:
            s.app.call(op="page", page=page)
            truth = s.truth("settings")
            # the focus is on the page list: wait for that focus event, then walk
            assert poll(lambda: _on_page_list(s.client.call(op="focus")["focus"]), 30, 0.2), s.client.call(op="focus")
            walk = _tab_walk(s, f"{page} settings page")
            stops = walk[:-1]
            # matched by role and name (the first test checked the names; a scroll area may
            # have scrolled since the ground truth was taken, so rectangles can move)
            reached = {(x["role"], x["name"]) for x in stops}
            missing = [f"{c['cls']} {c.get('label') or c['name']!r}" for c in truth["controls"]
                       if not any((r, c["current"] if c["kind"] == "combo box" else c.get("label", c["name"]))
                                  in reached for r in ROLES.get(c["kind"], {c["kind"]}))
                       and c["name"] != "Settings pages"]
            assert not missing, f"page {page}: Tab never reaches {missing}; order: {[x['name'] for x in stops]}"
            buttons = [i for i, x in enumerate(stops) if x["name"] in ("OK", "Apply", "Cancel")]
            assert buttons and buttons == list(range(buttons[0], len(stops))), \
                f"page {page}: OK/Apply/Cancel are not the last Tab stops: {[x['name'] for x in stops]}"
            problems = _visual_order_problems(stops[:buttons[0]])
            assert not problems, f"page {page}:\n" + "\n".join(problems)
        # Ctrl+PgDown from inside a page names the new page (focus on it, and announced)
        s.app.call(op="page", page="Voice")
        s.key("Tab")
        assert poll(lambda: not _on_page_list(s.client.call(op="focus")["focus"]), 20, 0.2)
        n = s.n_events()
        s.key("ctrl+Next")
        ev = s.wait_event(n, lambda e: e["type"].startswith("object:announcement")
                          and e["data"] == "Wake word settings page", 30)
        assert ev, s.events_since(n)
        assert poll(lambda: _on_page_list(s.client.call(op="focus")["focus"]), 20, 0.2), s.client.call(op="focus")

    def test_hotkey_button_says_the_combination_and_the_prompt(session):
        s = session
        s.app.call(op="settings")
        s.app.call(op="page", page="Hotkey")
        assert poll(lambda: _on_page_list(s.client.call(op="focus")["focus"]), 30, 0.2)
        s.key("Tab", "Tab")  # the "Enable the global hotkey" check box, then the capture button
        f = poll(lambda: (lambda f: f if f.get("role") == "push button" else None)(s.client.call(op="focus")["focus"]),
                 20, 0.2)
        assert f and f["name"] == "Ctrl+Alt+H", f
        assert "Press" not in f["description"] and "Ctrl+Alt+H" in f["description"], f
        n = s.n_events()
        s.key("space")
        ev = s.wait_event(n, lambda e: e["type"].startswith("object:property-change:accessible-name")
                          and e["name"] == "Press the new key combination…", 30)
        assert ev and ev["role"] == "push button", s.events_since(n)
        assert s.wait_event(n, lambda e: e["type"].startswith("object:announcement")
                            and e["data"] == "Press the new key combination…", 30)
        n = s.n_events()
        s.key("Escape")
        assert s.wait_event(n, lambda e: e["type"].startswith("object:property-change:accessible-name")
                            and e["name"] == "Ctrl+Alt+H", 30), s.events_since(n)
        s.app.call(op="close_settings")


if __name__ == "__main__":
    sys.exit({"app": mode_app, "client": mode_client, "bus": mode_bus}[sys.argv[1]]())
