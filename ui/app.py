"""``assistant-gui``: start the desktop app.

::

    assistant-gui                 open the window (or the tray only, if so configured)
    assistant-gui --listen        tell the running app to listen now (bind this to a desktop
                                  keyboard shortcut where no global hotkey works, e.g. on
                                  Wayland without the GlobalShortcuts portal); starts the app
                                  if it is not running
    assistant-gui --dictate       tell the running app to start dictation, or stop it if it is
                                  dictating (or start the app and dictate); bind this to a
                                  desktop shortcut where no global hotkey works
    assistant-gui --hidden        start in the tray
    assistant-gui --high-contrast / --font-scale 1.5

The window appears at once; models and the Rasa sidecar start on a worker thread with
visible progress.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever downloaded
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

#: the single-instance local socket (``ASSISTANT_INSTANCE_NAME`` overrides it, e.g. for tests)
SERVER_NAME = os.environ.get("ASSISTANT_INSTANCE_NAME") or f"offline-assistant-{getpass.getuser()}"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="assistant-gui", description="Offline voice assistant (desktop app).")
    p.add_argument("--listen", action="store_true", help="make the running app listen now (or start it and listen)")
    p.add_argument("--dictate", action="store_true",
                   help="make the running app start dictation, or stop it if dictating (or start it and dictate)")
    p.add_argument("--hidden", action="store_true", help="start in the tray without showing the window")
    p.add_argument("--high-contrast", action="store_true", help="use the high-contrast palette")
    p.add_argument("--font-scale", type=float, default=None, help="text size factor (1.0 = desktop font)")
    p.add_argument("--no-hotkey", action="store_true", help="do not register the global hotkey")
    p.add_argument("--no-microphone", action="store_true", help="do not open the microphone at start")
    p.add_argument("--debug", action="store_true", help="verbose log on stderr")
    return p.parse_args(argv)


def _send_to_running(message: str) -> bool:
    """Deliver ``message`` to an already running instance; False if none runs."""
    from PySide6.QtNetwork import QLocalSocket

    sock = QLocalSocket()
    sock.connectToServer(SERVER_NAME)
    if not sock.waitForConnected(500):
        return False
    sock.write(message.encode() + b"\n")
    sock.flush()
    sock.waitForBytesWritten(1000)
    sock.disconnectFromServer()
    return True


def serve_instance(window) -> object:
    """Listen for ``assistant-gui --listen`` / ``--dictate`` / a second launch from other processes on the
    single-instance local socket :data:`SERVER_NAME`; returns the ``QLocalServer`` (a child of
    ``window``; still returned, not listening, when the socket cannot be bound)."""
    from PySide6.QtNetwork import QLocalServer

    QLocalServer.removeServer(SERVER_NAME)  # a stale socket of a crashed instance
    server = QLocalServer(window)
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if not server.listen(SERVER_NAME):
        logging.getLogger(__name__).warning("single-instance socket: %s", server.errorString())
        return server

    def on_connection() -> None:
        sock = server.nextPendingConnection()

        def read() -> None:
            for line in bytes(sock.readAll()).decode(errors="replace").splitlines():
                if line.strip() == "listen":
                    window.controller.listen_now("command")
                elif line.strip() == "dictate":
                    window.controller.toggle_dictation("cli")
                elif line.strip() == "show":
                    window.bring_to_front()

        sock.readyRead.connect(read)
        sock.disconnected.connect(sock.deleteLater)

    server.newConnection.connect(on_connection)
    return server


def main(argv: list[str] | None = None, *, hard_exit: bool = True) -> int:
    """Run the desktop app; returns the exit status.

    Args:
        argv: command-line arguments (``sys.argv[1:]`` if None).
        hard_exit: after quitting, end the process at once with ``os._exit`` (see
            :func:`_finish`); pass False to return instead (running it inside another
            program, e.g. a test).
    """
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("offline-assistant")
    app.setApplicationDisplayName("Assistant")
    app.setOrganizationName("offline-assistant")
    app.setDesktopFileName("offline-assistant")
    app.setQuitOnLastWindowClosed(False)  # closing the window may keep it in the tray

    if _send_to_running("dictate" if args.dictate else "listen" if args.listen else "show"):
        return 0

    from ui.controller import EngineController
    from ui.icons import app_icon
    from ui.main_window import MainWindow
    from ui.theme import apply_theme

    app.setWindowIcon(app_icon())
    controller = EngineController(listen=False if args.no_microphone else None)
    ui = controller.ui_settings
    if args.high_contrast:
        ui.high_contrast = True
    if args.font_scale:
        ui.font_scale = max(0.75, min(3.0, args.font_scale))
    apply_theme(app, high_contrast=ui.high_contrast, font_scale=ui.font_scale)
    window = MainWindow(controller, global_hotkey=not args.no_hotkey)
    server = window.instance_server = serve_instance(window)
    hidden = (args.hidden or ui.start_hidden) and window.tray is not None and window.tray.available
    if not hidden:
        window.show()
    app.aboutToQuit.connect(window.shutdown)
    _quit_on_signals(window)
    QTimer.singleShot(0, controller.start)  # the window is on screen before anything loads
    if args.dictate:
        QTimer.singleShot(0, lambda: controller.dictate("cli"))
    elif args.listen:
        QTimer.singleShot(0, lambda: controller.listen_now("command"))
    rc = app.exec()
    _finish(window, server, rc, hard_exit)
    return rc


def _quit_on_signals(window) -> None:
    """SIGTERM / SIGINT / SIGHUP quit like Ctrl+Q (engine stopped, Rasa gone, socket removed).

    Python runs signal handlers only between bytecodes, and Qt's event loop is C++: a
    wake-up fd (:func:`signal.set_wakeup_fd`) on a :class:`QSocketNotifier` hands control to
    Python as soon as a signal arrives.
    """
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier, QTimer

    def handler(signum, _frame) -> None:
        logging.getLogger(__name__).info("signal %d: quitting", signum)
        QTimer.singleShot(0, window.quit)

    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    wsock.setblocking(False)
    signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
    notifier = QSocketNotifier(rsock.fileno(), QSocketNotifier.Type.Read, window)

    def drain() -> None:
        try:
            rsock.recv(64)
        except OSError:
            pass

    notifier.activated.connect(drain)
    window.signal_pipe = (rsock, wsock, notifier)  # keep them alive with the window
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


def _finish(window, server, rc: int, hard_exit: bool = True) -> None:
    """After the event loop: make sure the engine is shut down (microphone, voice, timers,
    Rasa child), remove the single-instance socket (a later ``assistant-gui`` then starts a
    fresh app instead of talking to a dead one) and, with ``hard_exit``, end the process
    now with ``os._exit(rc)``.

    Why ``os._exit``: once everything that holds user data or child processes is closed,
    the interpreter's own teardown still took 4-5 s here (native destructors of the loaded
    models and Qt, measured with ``faulthandler``: no Python frame left running), and it
    joins any non-daemon thread a library left behind. Nothing is lost by skipping it:
    settings are saved when changed, traces are closed by the engine, and stdio and the
    log are flushed first.
    """
    log = logging.getLogger(__name__)
    log.info("event loop ended (exit status %d)", rc)
    try:
        window.shutdown()
    except Exception:  # noqa: BLE001 - quitting anyway
        log.exception("shutdown failed")
    try:
        server.close()  # removes the socket file
    except Exception:  # noqa: BLE001
        pass
    log.info("engine shut down, single-instance socket removed; exiting")
    if hard_exit:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - closed or broken pipe
                pass
        logging.shutdown()
        os._exit(rc)
