"""Widgets of the main window and the settings panel (the hotkey capture button is in
:mod:`ui.hotkey_capture`).

All sizes derive from the font metrics (text scales with the system font); every widget
carries an accessible name and description; colours come from the palette, so the
high-contrast palette applies everywhere.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QProgressBar,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.a11y import StatusLabel, acc, announce
from ui.theme import is_high_contrast, state_color

# --------------------------------------------------------------------------------------
# State indicator and level meter
# --------------------------------------------------------------------------------------

STATE_LABELS = {
    "starting": "Starting…",
    "idle": "Idle",
    "listening": "Listening",
    "thinking": "Thinking",
    "speaking": "Speaking",
    "dictating": "Dictating",
    "muted": "Microphone muted",
    "error": "Not ready",
}


def ui_state(engine_state: str) -> str:
    """Map an engine :class:`~assistant.events.State` value to what the window shows:
    understanding and acting are both "thinking"."""
    return {"idle": "idle", "listening": "listening", "understanding": "thinking", "acting": "thinking",
            "speaking": "speaking"}.get(engine_state, engine_state)


class StateIndicator(QWidget):
    """A coloured dot and the state's name. ``state`` is one of :data:`STATE_LABELS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._state = "starting"
        self._label = StatusLabel(STATE_LABELS["starting"], "What the assistant is doing.", live=True, wrap=False)
        f = QFont(self._label.font())
        f.setBold(True)
        self._label.setFont(f)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(self.fontMetrics().height() + 8, 0, 0, 0)
        lay.addWidget(self._label)
        acc(self, "Assistant state", "What the assistant is doing: idle, listening, thinking, speaking or dictating.")
        self._update_a11y()

    @property
    def state(self) -> str:
        """Current state name."""
        return self._state

    def text(self) -> str:
        """The state as shown."""
        return self._label.text()

    def set_state(self, state: str) -> None:
        """Show ``state``."""
        if state == self._state:
            return
        self._state = state
        self._label.setText(STATE_LABELS.get(state, state.title()))
        self._update_a11y()
        self.update()

    def _update_a11y(self) -> None:
        self.setAccessibleDescription(f"Assistant state: {self._label.text()}")

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        d = self.fontMetrics().height() * 0.8
        y = (self.height() - d) / 2
        p.setBrush(state_color(self._state, is_high_contrast()))
        p.setPen(QPen(self.palette().color(QPalette.ColorRole.WindowText), 1))
        p.drawEllipse(QRectF(2, y, d, d))
        p.end()


class LevelMeter(QProgressBar):
    """Input level in dBFS shown as a bar from -60 dB (empty) to 0 dB (full)."""

    FLOOR_DB = -60.0

    def __init__(self, name: str = "Input level", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 600)
        self.setValue(0)
        self.setTextVisible(False)
        self.setFixedHeight(max(8, self.fontMetrics().height() // 2))
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self._db = -100.0
        acc(self, name, "Microphone input level in decibels relative to full scale.")

    @property
    def dbfs(self) -> float:
        """Last level shown, dBFS."""
        return self._db

    def set_level(self, dbfs: float) -> None:
        """Show ``dbfs`` (≤ 0)."""
        self._db = float(dbfs)
        v = max(0.0, min(1.0, (self._db - self.FLOOR_DB) / -self.FLOOR_DB))
        self.setValue(int(v * 600))
        self.setAccessibleDescription(f"Microphone input level {max(self._db, -100):.0f} dBFS")


# --------------------------------------------------------------------------------------
# Conversation
# --------------------------------------------------------------------------------------


@dataclass
class Turn:
    """One line of the conversation: ``role`` is ``"user"``, ``"assistant"`` or ``"system"``."""

    role: str
    text: str
    when: _dt.datetime
    interaction: str = ""

    @property
    def who(self) -> str:
        return {"user": "You", "assistant": "Assistant", "system": "Note"}.get(self.role, self.role)

    def spoken(self) -> str:
        """What a screen reader says for this turn."""
        return f"{self.who}, {self.when.strftime('%H:%M:%S')}: {self.text}"


ROLE_ROLE = Qt.ItemDataRole.UserRole + 1
TIME_ROLE = Qt.ItemDataRole.UserRole + 2


class ConversationModel(QAbstractListModel):
    """The conversation as a list model (one row per turn)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.turns: list[Turn] = []

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.turns)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        turn = self.turns[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return turn.text
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            return turn.spoken()
        if role == Qt.ItemDataRole.AccessibleDescriptionRole:
            return f"{turn.who} at {turn.when.strftime('%H:%M')}"
        if role == ROLE_ROLE:
            return turn.role
        if role == TIME_ROLE:
            return turn.when.strftime("%H:%M:%S")
        return None

    def add(self, turn: Turn) -> QModelIndex:
        row = len(self.turns)
        self.beginInsertRows(QModelIndex(), row, row)
        self.turns.append(turn)
        self.endInsertRows()
        return self.index(row)

    def clear(self) -> None:
        self.beginResetModel()
        self.turns.clear()
        self.endResetModel()


class BubbleDelegate(QStyledItemDelegate):
    """Draws a turn as a speech bubble: user turns right-aligned, assistant turns left, with
    the speaker and time above the wrapped text."""

    def _metrics(self, option: QStyleOptionViewItem):
        fm = option.fontMetrics
        pad = max(6, fm.height() // 2)
        return fm, pad

    def _bubble_width(self, option: QStyleOptionViewItem) -> int:
        return max(120, int(option.rect.width() * 0.78))

    def _text_rect(self, option: QStyleOptionViewItem, text: str) -> QRect:
        fm, pad = self._metrics(option)
        width = self._bubble_width(option) - 2 * pad
        return fm.boundingRect(QRect(0, 0, width, 100000), Qt.TextFlag.TextWordWrap, text)

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt API
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        if opt.rect.width() <= 0 and opt.widget is not None:
            opt.rect = QRect(0, 0, opt.widget.viewport().width(), 0)
        fm, pad = self._metrics(opt)
        body = self._text_rect(opt, index.data() or "")
        return QSize(opt.rect.width(), body.height() + fm.height() + 3 * pad + pad)

    def paint(self, painter: QPainter, option, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        fm, pad = self._metrics(opt)
        role = index.data(ROLE_ROLE)
        hc = is_high_contrast()
        pal = opt.palette
        text = index.data() or ""
        body = self._text_rect(opt, text)
        header = f"{'You' if role == 'user' else 'Assistant' if role == 'assistant' else 'Note'} · {index.data(TIME_ROLE)}"
        w = max(body.width(), fm.horizontalAdvance(header)) + 2 * pad
        h = body.height() + fm.height() + 3 * pad
        r = opt.rect.adjusted(pad, pad // 2, -pad, -pad // 2)
        x = r.right() - w if role == "user" else r.left()
        bubble = QRectF(x, r.top(), w, h)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if hc:
            fill, fg, border = QColor("#000000"), QColor("#ffffff"), QColor("#ffffff" if role != "user" else "#ffff00")
        elif role == "user":
            fill, fg, border = QColor("#2a6fdb"), QColor("#ffffff"), QColor("#2a6fdb")
        elif role == "assistant":
            fill, fg, border = QColor("#ffffff"), pal.color(QPalette.ColorRole.Text), QColor("#cfd6df")
        else:
            fill, fg, border = QColor("#fff4d6"), pal.color(QPalette.ColorRole.Text), QColor("#e0c36a")
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        focused = bool(opt.state & QStyle.StateFlag.State_HasFocus)
        pen = QPen(pal.color(QPalette.ColorRole.Highlight) if (selected or focused) else border,
                   3 if (selected or focused) else 1)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(bubble, pad * 1.5, pad * 1.5)
        hf = QFont(opt.font)
        hf.setBold(True)
        if opt.font.pointSizeF() > 0:
            hf.setPointSizeF(max(1.0, opt.font.pointSizeF() * 0.85))
        painter.setFont(hf)
        head_color = QColor(fg)
        if not hc:
            head_color.setAlpha(200)
        painter.setPen(head_color)
        painter.drawText(QRectF(x + pad, r.top() + pad, w - 2 * pad, fm.height()), Qt.AlignmentFlag.AlignLeft, header)
        painter.setFont(opt.font)
        painter.setPen(fg)
        painter.drawText(QRectF(x + pad, r.top() + 2 * pad + fm.height(), w - 2 * pad, body.height() + 2),
                         Qt.TextFlag.TextWordWrap, text)
        painter.restore()


class ConversationView(QListView):
    """The conversation: keyboard-navigable list of turns; each turn is read by screen
    readers as "You, 12:03:05: what time is it"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = ConversationModel(self)
        self.setModel(self.model_)
        self.setItemDelegate(BubbleDelegate(self))
        self.setWordWrap(True)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSpacing(2)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        acc(self, "Conversation", "Your requests and the assistant's replies, newest last. "
                                  "Use the arrow keys to read earlier turns.")

    def add_turn(self, role: str, text: str, when: _dt.datetime | None = None, interaction: str = "") -> Turn:
        """Append a turn and scroll to it."""
        turn = Turn(role, text, when or _dt.datetime.now(), interaction)
        idx = self.model_.add(turn)
        self.scrollTo(idx)
        self.scrollToBottom()
        if role != "user":
            announce(self, turn.spoken())
        return turn

    def turns(self) -> list[Turn]:
        """All turns, oldest first."""
        return list(self.model_.turns)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()  # re-wrap bubbles to the new width

    placeholder = ("Say the wake word (“Hey Jarvis”), press Ctrl+Space or the Talk button, "
                   "or type a request below.")

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        if self.model_.rowCount() == 0:
            p = QPainter(self.viewport())
            color = self.palette().color(QPalette.ColorRole.PlaceholderText)
            p.setPen(color)
            m = self.fontMetrics().height() * 2
            p.drawText(self.viewport().rect().adjusted(m, m, -m, -m),
                       int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap), self.placeholder)
            p.end()


# --------------------------------------------------------------------------------------
# Notices
# --------------------------------------------------------------------------------------


class NoticeBox(QFrame):
    """One message with what to do about it, and a dismiss button."""

    dismissed = Signal()

    def __init__(self, level: str, message: str, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level, self.message, self.hint = level, message, hint
        self.setObjectName(f"notice-{level}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        title = {"error": "Problem", "warning": "Warning"}.get(level, "Note")
        self.label = QLabel(f"<b>{title}:</b> {_esc(message)}" + (f"<br>{_esc(hint)}" if hint else ""))
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        acc(self.label, f"{title}: {message}", hint or message, tooltip=False)
        close = QToolButton()
        close.setText("Dismiss")
        close.setAutoRaise(False)
        acc(close, "Dismiss message", f"Hide the message: {message}")
        close.clicked.connect(self._dismiss)
        lay = QHBoxLayout(self)
        lay.addWidget(self.label, 1)
        lay.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.close_button = close
        acc(self, f"{title}: {message}", hint or message, tooltip=False)
        self.restyle()

    def restyle(self) -> None:
        """Colours for the current palette (called again when the theme changes)."""
        from PySide6.QtWidgets import QApplication

        pal = QPalette(QApplication.palette())
        self.setFrameShape(QFrame.Shape.Box if is_high_contrast() else QFrame.Shape.StyledPanel)
        if not is_high_contrast():
            bg = {"error": "#fde8e8", "warning": "#fff4d6"}.get(self.level, "#e7f0fd")
            pal.setColor(QPalette.ColorRole.Window, QColor(bg))
            pal.setColor(QPalette.ColorRole.WindowText, QColor("#1b1d21"))
        self.setPalette(pal)
        self.label.setPalette(pal)

    def text(self) -> str:
        """Message and hint as plain text."""
        return f"{self.message} {self.hint}".strip()

    def _dismiss(self) -> None:
        self.dismissed.emit()
        self.hide()
        self.deleteLater()


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class NoticeArea(QWidget):
    """Stack of the most recent notices (errors first in importance, newest on top)."""

    MAX = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self.history: list[tuple[str, str, str]] = []
        acc(self, "Messages", "Problems and notes from the assistant, with what to do.")
        self.hide()

    def add(self, level: str, message: str, hint: str = "") -> NoticeBox:
        """Show a notice (a repeat of a visible one is not duplicated)."""
        self.history.append((level, message, hint))
        for box in self.boxes():
            if box.message == message:
                return box
        box = NoticeBox(level, message, hint)
        box.dismissed.connect(lambda: self._removed(box))
        announce(self, box.text())
        self._lay.insertWidget(0, box)
        boxes = self.boxes()
        for old in boxes[self.MAX:]:
            old.hide()
            old.deleteLater()
        self.show()
        return box

    def remove(self, box: NoticeBox | None) -> None:
        """Take ``box`` away (e.g. a "restarting" banner once the engine is back); no effect
        if it is None or already gone."""
        if box is None:
            return
        try:
            if box.isHidden():
                return
            box.hide()
            box.deleteLater()
        except RuntimeError:  # already deleted by Qt (dismissed, pushed out)
            return
        self._removed(box)

    def _removed(self, box: NoticeBox) -> None:
        box.setParent(None)
        if not self.boxes():
            self.hide()

    def boxes(self) -> list[NoticeBox]:
        """Visible notices, newest first."""
        out = []
        for i in range(self._lay.count()):
            w = self._lay.itemAt(i).widget()
            if isinstance(w, NoticeBox) and not w.isHidden():
                out.append(w)
        return out

    def texts(self) -> list[str]:
        """Visible notices as text."""
        return [b.text() for b in self.boxes()]

    def restyle(self) -> None:
        """Re-colour the notices after a theme change."""
        for b in self.boxes():
            b.restyle()

    def clear(self) -> None:
        """Remove every notice."""
        for b in self.boxes():
            b.setParent(None)
            b.deleteLater()
        self.hide()


class ProgressPanel(QWidget):
    """Start-up / training progress: a message and a bar (busy when the fraction is unknown)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = StatusLabel("Starting…", "What the assistant is loading now.")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first Progress event
        self.bar.setTextVisible(True)
        acc(self.bar, "Start-up progress", "How far loading the models and the language engine has got.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        acc(self, "Progress", "Loading models and starting the language engine.")
        self.messages: list[str] = []

    def set_progress(self, message: str, fraction: float) -> None:
        """Show ``message`` at ``fraction`` in [0, 1] (negative = unknown)."""
        self.messages.append(message)
        self.label.setText(message)
        if fraction < 0:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 100)
            self.bar.setValue(int(round(fraction * 100)))
        self.bar.setAccessibleDescription(f"{message} ({'busy' if fraction < 0 else f'{fraction:.0%}'})")
        self.show()
