"""Accessibility dictation (issue 11): engine code, no Qt.

* :mod:`assistant.dictation.committer`: :class:`Committer` — streaming with a stable prefix
  (LocalAgreement-2 on :class:`assistant.asr.StreamingTranscriber`), flushed at pauses;
* :mod:`assistant.dictation.commands`: :class:`Formatter` — spoken formatting and editing
  ("comma", "new line", "scratch that", …) on committed text → edit operations;
* :mod:`assistant.dictation.typing`: :class:`Typist` backends that type those operations
  into the focused window (X11 XTest, wtype, clipboard);
* :mod:`assistant.dictation.focus`: :class:`FocusProbe` — is the focused field a password
  field? (AT-SPI, through :mod:`assistant.dictation.atspi_probe` on the system Python).
"""
