"""The settings panel, one module per page.

* :mod:`ui.settings.dialog`: :class:`SettingsDialog`, which composes the pages.
* :mod:`ui.settings.common`: the page base class and shared form rows.
* one module per page: ``audio_page`` (Microphone), ``voice_page``, ``wake_page``,
  ``asr_page`` (Speech recognition), ``hotkey_page``, ``dictation_page``, ``skills_page``, ``appearance_page``;
  the latency page is :class:`ui.latency.LatencyPage`.
* :mod:`ui.settings.mic_monitor`: the microphone capture thread (level meter, test).
"""

from ui.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
