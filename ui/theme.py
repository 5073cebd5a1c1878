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
    "dictating": ("#8e44ad", "#ff66ff"),
    "muted": ("#c0392b", "#ff5555"),
    "error": ("#c0392b", "#ff5555"),
}


def state_color(state: str, high_contrast: bool = False) -> QColor:
    """Colour of a state name (see :data:`STATE_COLORS`)."""
    normal, hc = STATE_COLORS.get(state, STATE_COLORS["idle"])
    return QColor(hc if high_contrast else normal)


_R = QPalette.ColorRole

#: High contrast: white on black, yellow highlight, cyan links (roles of the active and
#: inactive groups; then the disabled group's).
HIGH_CONTRAST_COLORS = {
    _R.Window: "#000000", _R.WindowText: "#ffffff", _R.Base: "#000000", _R.AlternateBase: "#1a1a1a",
    _R.Text: "#ffffff", _R.Button: "#000000", _R.ButtonText: "#ffffff", _R.BrightText: "#ffff00",
    _R.Highlight: "#ffff00", _R.HighlightedText: "#000000", _R.ToolTipBase: "#000000", _R.ToolTipText: "#ffffff",
    _R.PlaceholderText: "#d0d0d0", _R.Link: "#00ffff", _R.Light: "#ffffff", _R.Midlight: "#cccccc",
    _R.Mid: "#bbbbbb", _R.Dark: "#ffffff", _R.Shadow: "#ffffff",
}
HIGH_CONTRAST_DISABLED = {
    _R.WindowText: "#b0b0b0", _R.Text: "#b0b0b0", _R.ButtonText: "#b0b0b0", _R.Window: "#000000",
    _R.Base: "#000000", _R.Button: "#000000",
}
#: The normal light palette with a clearly visible blue focus/selection colour.
NORMAL_COLORS = {
    _R.Window: "#f4f5f7", _R.WindowText: "#1b1d21", _R.Base: "#ffffff", _R.AlternateBase: "#eef1f5",
    _R.Text: "#1b1d21", _R.Button: "#e9ebef", _R.ButtonText: "#1b1d21", _R.Highlight: "#2a6fdb",
    _R.HighlightedText: "#ffffff", _R.ToolTipBase: "#ffffe6", _R.ToolTipText: "#1b1d21",
    _R.PlaceholderText: "#6b7280", _R.Link: "#1d4ed8",
}
NORMAL_DISABLED = {_R.WindowText: "#8b9099", _R.Text: "#8b9099", _R.ButtonText: "#8b9099"}


def make_palette(colors: dict, disabled: dict) -> QPalette:
    """A palette with ``colors`` (``QPalette.ColorRole`` -> ``"#rrggbb"``) in the active and
    inactive groups and ``disabled`` in the disabled group; other roles keep Qt's defaults."""
    p = QPalette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        for role, color in colors.items():
            p.setColor(group, role, QColor(color))
    for role, color in disabled.items():
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))
    return p


def high_contrast_palette() -> QPalette:
    """White on black with yellow highlight and cyan links (WCAG contrast > 15:1)."""
    return make_palette(HIGH_CONTRAST_COLORS, HIGH_CONTRAST_DISABLED)


def normal_palette() -> QPalette:
    """A light palette with a clearly visible blue focus/selection colour."""
    return make_palette(NORMAL_COLORS, NORMAL_DISABLED)


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
