"""Frozen entry point of ``assistant-gui``: ``ui.app:main``."""
import sys

from ui.app import main

sys.exit(main())
