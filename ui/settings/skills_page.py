"""Settings page "Skills": each installed skill switched on or off, and a form for each
skill's own settings built from its manifest. The skills are loaded on a worker."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from assistant.settings import Settings
from ui.a11y import StatusLabel, acc
from ui.settings.common import SettingsPage, form_layout, labelled, note
from ui.ui_settings import UISettings
from ui.workers import submit


def field_widget(field: Any, value: Any) -> QWidget:
    """The editor of one manifest setting ``field`` (a ``SettingField``) showing ``value``:
    a check box (bool), combo box (choice), spin box (int/float) or line edit (text)."""
    if field.type == "bool":
        w: QWidget = QCheckBox(field.label)
        w.setChecked(bool(value))
    elif field.type == "choice":
        w = QComboBox()
        for c in field.choices:
            w.addItem(c, c)
        w.setCurrentIndex(max(0, w.findData(str(value))))
    elif field.type == "int":
        w = QSpinBox()
        w.setRange(int(field.min) if field.min is not None else -10**9,
                   int(field.max) if field.max is not None else 10**9)
        w.setValue(int(value))
    elif field.type == "float":
        w = QDoubleSpinBox()
        w.setDecimals(3)
        w.setRange(float(field.min) if field.min is not None else -1e9,
                   float(field.max) if field.max is not None else 1e9)
        w.setValue(float(value))
    else:
        w = QLineEdit(str(value))
    return w


def field_value(w: QWidget) -> Any:
    """The value shown by an editor made by :func:`field_widget`."""
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentData()
    if isinstance(w, (QSpinBox, QDoubleSpinBox)):
        return w.value()
    return w.text()


class SkillsPage(SettingsPage):
    """The installed skills and their own settings (``settings.skills``).

    Args:
        settings: the settings shown (``settings.skills`` is read when the skills arrive).
        pool: the thread pool that loads the skills (:meth:`load`).
    """

    def __init__(self, settings: Settings, pool: QThreadPool) -> None:
        super().__init__()
        self.skills = settings.skills.model_copy(deep=True)
        self.pool = pool
        lay = QVBoxLayout(self)
        lay.addWidget(note("Switch skills on or off (the language engine is retrained, which takes a few seconds) "
                           "and change each skill's own settings."))
        self.skills_list = acc(QListWidget(), "Installed skills",
                               "Each installed skill; Space switches the selected one on or off.")
        self.skills_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.skills_list.currentRowChanged.connect(self._skill_selected)
        self.skills_list.itemChanged.connect(self._skill_toggled)
        self.skill_forms = QStackedWidget()
        self.skill_forms.setAccessibleName("Skill settings")
        self.skills_status = StatusLabel("Loading the installed skills…",
                                         "Skills installed, and any that could not be loaded and why.", live=True)
        lay.addWidget(self.skills_list, 1)
        lay.addWidget(self.skill_forms, 1)
        lay.addWidget(self.skills_status)
        #: skill id -> setting key -> its editor
        self.skill_widgets: dict[str, dict[str, QWidget]] = {}
        #: the listed skills' ids, in list order
        self.skill_ids: list[str] = []
        self._manifests: dict[str, Any] = {}

    def load(self) -> None:
        """Load the installed skills on a worker, then list them."""
        def work():
            from assistant.skills import load_skills

            return load_skills()

        submit(self.pool, "skills", work, on_done=self._fill_skills,
               on_error=lambda exc: self.skills_status.setText(f"Could not list the skills: {exc}"))

    def _fill_skills(self, result: Any) -> None:
        try:
            self.skills_list.count()
        except RuntimeError:  # dialog already gone
            return
        self.skills_list.blockSignals(True)
        self.skills_list.clear()
        while self.skill_forms.count():
            self.skill_forms.removeWidget(self.skill_forms.widget(0))
        self.skill_ids = []
        disabled = set(self.skills.disabled)
        for skill in result.skills:
            m = skill.manifest
            item = QListWidgetItem(f"{m.name} — {m.description}" if m.description else m.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if skill.id in disabled else Qt.CheckState.Checked)
            item.setData(Qt.ItemDataRole.UserRole, skill.id)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{m.name} skill, version {m.version}"
                         + (", needs the internet" if m.requires_internet else ""))
            self.skills_list.addItem(item)
            self.skill_ids.append(skill.id)
            self.skill_forms.addWidget(self._skill_form(skill))
        self.skills_list.blockSignals(False)
        # The forms are built after the OK/Cancel/Apply buttons, which put them last in the
        # Tab chain: move each skill's own settings right after the skills list.
        prev: QWidget = self.skills_list
        for sid in self.skill_ids:
            for w in self.skill_widgets[sid].values():
                QWidget.setTabOrder(prev, w)
                prev = w
        errors = [e.message for e in result.errors]  # SkillLoadError
        self.skills_status.setText("Not loaded: " + "; ".join(errors) if errors else
                                   f"{len(result.skills)} skills installed.")
        if self.skill_ids:
            self.skills_list.setCurrentRow(0)

    def _skill_form(self, skill: Any) -> QWidget:
        box = QGroupBox(f"{skill.manifest.name} settings")
        box.setAccessibleName(f"{skill.manifest.name} settings")
        form = form_layout()
        values, _problems = skill.manifest.resolve_settings(self.skills.options.get(skill.id))
        widgets: dict[str, QWidget] = {}
        for f in skill.manifest.settings:
            w = field_widget(f, values.get(f.key, f.default))
            acc(w, f.label, f.help or f.label)
            if f.type == "bool":
                form.addRow(w)
            else:
                labelled(form, f"{f.label}:", w)
            w.setObjectName(f"skill-{skill.id}-{f.key}")
            widgets[f.key] = w
        if not skill.manifest.settings:
            form.addRow(note("This skill has no settings."))
        self.skill_widgets[skill.id] = widgets
        self._manifests[skill.id] = skill.manifest
        box.setLayout(form)
        return box

    def _skill_selected(self, row: int) -> None:
        if 0 <= row < self.skill_forms.count():
            self.skill_forms.setCurrentIndex(row)

    def _skill_toggled(self, item: QListWidgetItem) -> None:
        sid = item.data(Qt.ItemDataRole.UserRole)
        on = item.checkState() == Qt.CheckState.Checked
        self.skills_status.setText(f"{item.text().split(' — ')[0]} ({sid}) will be {'enabled' if on else 'disabled'} "
                                   "when you apply; the language engine is retrained then.")

    def edited_options(self) -> dict[str, dict[str, Any]]:
        """Each listed skill's values that differ from their defaults (skill id -> key -> value)."""
        options = {}
        for sid, widgets in self.skill_widgets.items():
            values = {}
            for f in self._manifests[sid].settings:
                v = field_value(widgets[f.key])
                if v != f.default:
                    values[f.key] = v
            options[sid] = values
        return options

    def validate(self) -> list[str]:
        """What a skill's manifest rejects among the edited values (e.g. text not matching)."""
        problems = []
        for sid, values in self.edited_options().items():
            problems += self._manifests[sid].resolve_settings(values)[1]
        return problems

    def write(self, settings: Settings, ui: UISettings) -> None:
        """Write which skills are off and their edited settings (nothing before the skills
        are listed)."""
        if not self.skill_ids:
            return
        s = settings.skills
        disabled = [x for x in s.disabled if x not in self.skill_ids]
        for row, sid in enumerate(self.skill_ids):
            if self.skills_list.item(row).checkState() != Qt.CheckState.Checked:
                disabled.append(sid)
        s.disabled = disabled
        options = dict(s.options)
        for sid, values in self.edited_options().items():
            if values:
                options[sid] = values
            else:
                options.pop(sid, None)
        s.options = options
