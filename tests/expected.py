"""Patterns of replies whose words depend on the moment a test runs.

Imported by the tests as ``from expected import CLOCK_REPLY`` (``tests/`` is on ``sys.path``
under pytest). One definition, so a change of wording in a skill is made once here — the clock
skill started saying "5 o'clock" on the hour and four copies of the old pattern failed at hh:00.
"""

import re

#: The clock skill's answer to "what time is it" in the default 12-hour format
#: (``skills.clock.spoken_time``): "It's 5:09 in the afternoon." or, on the hour,
#: "It's 5 o'clock in the afternoon.". Use with ``CLOCK_REPLY.fullmatch(reply)``.
CLOCK_REPLY = re.compile(
    r"It's (1[0-2]|[1-9])(:[0-5]\d| o'clock) (in the morning|in the afternoon|in the evening|at night)\.")
