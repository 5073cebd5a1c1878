"""A FAKE xdg-desktop-portal for tests/test_portal_shortcuts.py: it owns
``org.freedesktop.portal.Desktop`` on the session bus and serves
``/org/freedesktop/portal/desktop`` with the ``org.freedesktop.portal.GlobalShortcuts``
interface (version 1): ``CreateSession`` and ``BindShortcuts`` answer with a Request object
path and then the ``org.freedesktop.portal.Request.Response`` signal, as the real portal
does; ``Session.Close`` on the session object. After binding it emits ``Activated`` and
``Deactivated`` for the shortcut id given by ``--activate`` (default ``dictate``).

It is faked because no KDE or GNOME compositor (nor xdg-desktop-portal with a
GlobalShortcuts backend) runs on this machine.

Every call it receives is appended as one JSON line to the log file given as the first
argument (``{"method": ..., "args": ...}``), so the test can check what the client sent.

Usage: ``python tests/fake_portal.py LOG [--activate ID] [--refuse] [--address-file F]``
(``--refuse``: answer BindShortcuts with response code 2; ``--address-file``: once the name
is owned, write the bus address there, so a test outside the bus can connect). Run it on a
private bus: ``dbus-run-session -- python tests/fake_portal.py ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

from jeepney import (DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal)
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

SERVICE = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
IFACE = "org.freedesktop.portal.GlobalShortcuts"


def main() -> int:
    """Serve until killed."""
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--activate", default="dictate")
    ap.add_argument("--refuse", action="store_true")
    ap.add_argument("--address-file")
    args = ap.parse_args()
    conn = open_dbus_connection("SESSION")
    lock = threading.Lock()

    def record(method: str, body) -> None:
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"method": method, "args": body}) + "\n")

    def send(msg) -> None:
        with lock:
            conn.send(msg)

    def request_path(sender: str, options: dict) -> str:
        token = options.get("handle_token", ("s", "t%d" % time.monotonic_ns()))[1]
        return f"{PATH}/request/{sender.lstrip(':').replace('.', '_')}/{token}"

    def respond(path: str, code: int, results: dict) -> None:
        time.sleep(0.05)  # after the method reply, as a real portal does
        send(new_signal(DBusAddress(path, interface="org.freedesktop.portal.Request"), "Response", "ua{sv}",
                        (code, results)))

    def activate(session: str, shortcut_id: str) -> None:
        time.sleep(0.3)
        addr = DBusAddress(PATH, interface=IFACE)
        now = int(time.time() * 1000)
        send(new_signal(addr, "Activated", "osta{sv}", (session, shortcut_id, now, {})))
        time.sleep(0.1)
        send(new_signal(addr, "Deactivated", "osta{sv}", (session, shortcut_id, now + 100, {})))

    reply = conn.send_and_get_reply(message_bus.RequestName(SERVICE, 4))  # DO_NOT_QUEUE
    if reply.body[0] != 1:
        raise SystemExit(f"cannot own {SERVICE}: {reply.body}")
    if args.address_file:
        with open(args.address_file + ".tmp", "w", encoding="utf-8") as f:
            f.write(os.environ["DBUS_SESSION_BUS_ADDRESS"])
        os.replace(args.address_file + ".tmp", args.address_file)
    sessions: dict[str, str] = {}  # session path → owner
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        f = msg.header.fields
        path, iface, member, sender = (f.get(HeaderFields.path), f.get(HeaderFields.interface),
                                       f.get(HeaderFields.member), f.get(HeaderFields.sender))
        body = list(msg.body)
        record(member, [list(x) if isinstance(x, tuple) else x for x in body])
        if iface == "org.freedesktop.DBus.Properties" and member == "Get" and body == [IFACE, "version"]:
            send(new_method_return(msg, "v", (("u", 1),)))
        elif iface == IFACE and member == "CreateSession":
            handle = request_path(sender, body[0])
            session = f"{PATH}/session/{sender.lstrip(':').replace('.', '_')}/{body[0]['session_handle_token'][1]}"
            sessions[session] = sender
            send(new_method_return(msg, "o", (handle,)))
            threading.Thread(target=respond, args=(handle, 0, {"session_handle": ("s", session)})).start()
        elif iface == IFACE and member == "BindShortcuts":
            session, shortcuts, _parent, options = body
            handle = request_path(sender, options)
            send(new_method_return(msg, "o", (handle,)))
            if args.refuse or session not in sessions:
                threading.Thread(target=respond, args=(handle, 2, {})).start()
                continue
            bound = [(sid, {"description": props["description"],
                            "trigger_description": ("s", props.get("preferred_trigger", ("s", ""))[1])})
                     for sid, props in shortcuts]
            threading.Thread(target=respond, args=(handle, 0, {"shortcuts": ("a(sa{sv})", bound)})).start()
            threading.Thread(target=activate, args=(session, args.activate)).start()
        elif iface == "org.freedesktop.portal.Session" and member == "Close" and path in sessions:
            sessions.pop(path)
            send(new_method_return(msg))
        else:
            send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no {iface}.{member} here",)))


if __name__ == "__main__":
    raise SystemExit(main())
