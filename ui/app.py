"""``assistant-gui``: start the desktop app.

::

    assistant-gui                 open the window (or the tray only, if so configured)
    assistant-gui --listen        tell the running app to listen now (bind this to a desktop
                                  keyboard shortcut where no global hotkey works, e.g. on
                                  Wayland without the GlobalShortcuts portal); starts the app
                                  if it is not running
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

SERVER_NAME = f"offline-assistant-{getpass.getuser()}"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="assistant-gui", description="Offline voice assistant (desktop app).")
    p.add_argument("--listen", action="store_true", help="make the running app listen now (or start it and listen)")
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


def _serve(window) -> object:
    """Listen for ``assistant-gui --listen`` / a second launch from other processes."""
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
                elif line.strip() == "show":
                    window.bring_to_front()

        sock.readyRead.connect(read)
        sock.disconnected.connect(sock.deleteLater)

    server.newConnection.connect(on_connection)
    return server


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app; returns the exit status."""
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

    if _send_to_running("listen" if args.listen else "show"):
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
    window._server = _serve(window)
    hidden = (args.hidden or ui.start_hidden) and window.tray is not None and window.tray.available
    if not hidden:
        window.show()
    app.aboutToQuit.connect(window.shutdown)
    QTimer.singleShot(0, controller.start)  # the window is on screen before anything loads
    if args.listen:
        QTimer.singleShot(0, lambda: controller.listen_now("command"))
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
