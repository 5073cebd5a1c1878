"""The PySide6 desktop app of the offline assistant.

It only subscribes to engine events (:mod:`assistant.events`) and calls engine methods
(:class:`assistant.pipeline.Assistant`); the engine never imports Qt. Engine work (model
loading, Rasa training, transcription, synthesis) always runs on worker threads, never on
the GUI thread (see :mod:`ui.controller`).

Entry point: ``assistant-gui`` → :func:`ui.app.main`.
"""
