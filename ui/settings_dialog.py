"""Compatibility name: the settings panel now lives in the :mod:`ui.settings` package
(one module per page); ``from ui.settings_dialog import SettingsDialog`` keeps working."""

from ui.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
