"""Frozen entry point of ``assistant`` (the CLI): ``assistant.cli:main``."""
import sys

from assistant.cli import main

sys.exit(main())
