"""The application icon (``ui/resources/assistant.svg``) and the tray's per-state icons,
rendered from SVG so they are sharp at every size."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

RESOURCES = Path(__file__).resolve().parent / "resources"
APP_ICON = RESOURCES / "assistant.svg"

_STATE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<circle cx="32" cy="32" r="30" fill="{color}" stroke="{ring}" stroke-opacity="{ring_op}" stroke-width="3"/>
<rect x="25" y="12" width="14" height="24" rx="7" fill="#ffffff"/>
<path d="M18 30a14 14 0 0 0 28 0" fill="none" stroke="#ffffff" stroke-width="4" stroke-linecap="round"/>
<line x1="32" y1="44" x2="32" y2="52" stroke="#ffffff" stroke-width="4" stroke-linecap="round"/>
{extra}
</svg>"""

_SLASH = '<line x1="12" y1="12" x2="52" y2="52" stroke="#ffffff" stroke-width="6" stroke-linecap="round"/>'


def _render(svg: bytes, sizes=(16, 22, 24, 32, 48, 64, 128, 256)) -> QIcon:
    renderer = QSvgRenderer(QByteArray(svg))
    icon = QIcon()
    for size in sizes:
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(p, QRectF(0, 0, size, size))
        p.end()
        icon.addPixmap(pm)
    return icon


@lru_cache(maxsize=None)
def app_icon() -> QIcon:
    """The application icon."""
    return _render(APP_ICON.read_bytes())


@lru_cache(maxsize=None)
def state_icon(state: str, high_contrast: bool = False) -> QIcon:
    """Tray/indicator icon for a state name: idle, listening, thinking, speaking, muted,
    starting, error."""
    from ui.theme import state_color

    color = state_color(state, high_contrast).name()
    ring, ring_op = ("#ffffff", "1") if high_contrast else ("#000000", "0.2")
    extra = _SLASH if state in ("muted", "error") else ""
    svg = _STATE_SVG.format(color=color, ring=ring, ring_op=ring_op, extra=extra).encode()
    return _render(svg)


@lru_cache(maxsize=None)
def stop_icon() -> QIcon:
    """A stop sign: white square on a red disc (the Stop button)."""
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
           '<circle cx="32" cy="32" r="30" fill="#c0392b"/><rect x="20" y="20" width="24" height="24" rx="3" '
           'fill="#ffffff"/></svg>')
    return _render(svg.encode())
