"""Look: Fusion style, the normal and the high-contrast palette, font scaling, focus frames.

Text scales with the system font: nothing in the app sets a pixel font size; widgets derive
their sizes from ``fontMetrics()``, and :func:`apply_theme` multiplies the desktop's font by
the user's ``font_scale``.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

_BASE_FONT: dict[int, QFont] = {}

#: Colours of the pipeline states (normal palette, high-contrast palette).
STATE_COLORS = {
    "starting": ("#8a8f98", "#ffffff"),
    "idle": ("#5f7d95", "#ffffff"),
    "listening": ("#1e9e4a", "#00ff66"),
    "thinking": ("#d08a00", "#ffd700"),
    "speaking": ("#2a6fdb", "#00e5ff"),
    "muted": ("#c0392b", "#ff5555"),
    "error": ("#c0392b", "#ff5555"),
}


def state_color(state: str, high_contrast: bool = False) -> QColor:
    """Colour of a state name (see :data:`STATE_COLORS`)."""
    normal, hc = STATE_COLORS.get(state, STATE_COLORS["idle"])
    return QColor(hc if high_contrast else normal)


def high_contrast_palette() -> QPalette:
    """White on black with yellow highlight and cyan links (WCAG contrast > 15:1)."""
    p = QPalette()
    black, white, yellow = QColor("#000000"), QColor("#ffffff"), QColor("#ffff00")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, black)
        p.setColor(group, QPalette.ColorRole.WindowText, white)
        p.setColor(group, QPalette.ColorRole.Base, black)
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor("#1a1a1a"))
        p.setColor(group, QPalette.ColorRole.Text, white)
        p.setColor(group, QPalette.ColorRole.Button, black)
        p.setColor(group, QPalette.ColorRole.ButtonText, white)
        p.setColor(group, QPalette.ColorRole.BrightText, yellow)
        p.setColor(group, QPalette.ColorRole.Highlight, yellow)
        p.setColor(group, QPalette.ColorRole.HighlightedText, black)
        p.setColor(group, QPalette.ColorRole.ToolTipBase, black)
        p.setColor(group, QPalette.ColorRole.ToolTipText, white)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#d0d0d0"))
        p.setColor(group, QPalette.ColorRole.Link, QColor("#00ffff"))
        p.setColor(group, QPalette.ColorRole.Light, white)
        p.setColor(group, QPalette.ColorRole.Midlight, QColor("#cccccc"))
        p.setColor(group, QPalette.ColorRole.Mid, QColor("#bbbbbb"))
        p.setColor(group, QPalette.ColorRole.Dark, white)
        p.setColor(group, QPalette.ColorRole.Shadow, white)
    grey = QColor("#b0b0b0")
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, grey)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Window, black)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Base, black)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Button, black)
    return p


def normal_palette() -> QPalette:
    """A light palette with a clearly visible blue focus/selection colour."""
    p = QPalette()
    window, text = QColor("#f4f5f7"), QColor("#1b1d21")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, window)
        p.setColor(group, QPalette.ColorRole.WindowText, text)
        p.setColor(group, QPalette.ColorRole.Base, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor("#eef1f5"))
        p.setColor(group, QPalette.ColorRole.Text, text)
        p.setColor(group, QPalette.ColorRole.Button, QColor("#e9ebef"))
        p.setColor(group, QPalette.ColorRole.ButtonText, text)
        p.setColor(group, QPalette.ColorRole.Highlight, QColor("#2a6fdb"))
        p.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.ToolTipBase, QColor("#ffffe6"))
        p.setColor(group, QPalette.ColorRole.ToolTipText, text)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#6b7280"))
        p.setColor(group, QPalette.ColorRole.Link, QColor("#1d4ed8"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#8b9099"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#8b9099"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#8b9099"))
    return p


def _focus_stylesheet(high_contrast: bool) -> str:
    # Fusion already frames the focused control in the palette's Highlight colour (blue, or
    # yellow in high contrast); only item views get a thicker frame so a focused list or
    # table is obvious too (WCAG 2.4.7 focus visible).
    color = "#ffff00" if high_contrast else "#2a6fdb"
    css = f"QAbstractItemView:focus {{ border: 2px solid {color}; }}"
    if high_contrast:  # every input gets a visible white frame, the focused one a thick yellow one
        css = ("QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView, QProgressBar "
               "{ border: 1px solid #ffffff; padding: 2px; }\n"
               "QProgressBar::chunk { background: #ffff00; }\n"
               "QLineEdit:focus, QComboBox:focus, QAbstractSpinBox:focus, QAbstractItemView:focus "
               "{ border: 3px solid #ffff00; }\n")
    return css


def apply_theme(app: QApplication, *, high_contrast: bool = False, font_scale: float = 1.0) -> None:
    """Apply the palette, focus frames and font scale to the whole application."""
    app.setStyle("Fusion")
    key = id(app)
    if key not in _BASE_FONT:
        _BASE_FONT[key] = QFont(app.font())
    font = QFont(_BASE_FONT[key])
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * font_scale)
    elif font.pixelSize() > 0:
        font.setPixelSize(round(font.pixelSize() * font_scale))
    app.setFont(font)
    app.setPalette(high_contrast_palette() if high_contrast else normal_palette())
    app.setStyleSheet(_focus_stylesheet(high_contrast))
    app.setProperty("high_contrast", bool(high_contrast))


def is_high_contrast() -> bool:
    """Whether the high-contrast palette is active."""
    app = QApplication.instance()
    return bool(app is not None and app.property("high_contrast"))
