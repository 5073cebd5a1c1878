"""Private, atomic file writes for everything the app keeps about its user.

Notes, reminders, latency traces (they hold transcripts) and settings are the user's private
data. Every file the app writes under its config and data folders goes through
:func:`write_private`:

* created with mode ``0600`` (owner read/write only) whatever the umask, and folders created
  by :func:`private_dir` with ``0700``;
* atomically: the bytes go to a temporary file in the same folder (``tempfile.mkstemp``, which
  creates it ``0600``), are flushed and ``fsync``-ed, then ``os.replace`` puts it in place. A
  file that already exists with wider permissions is therefore replaced by a ``0600`` one,
  and a failed write (disk full, permission denied) leaves the previous file byte-identical
  and no partial or temporary file behind.

A failure is raised as :class:`PrivateWriteError`, which is both an
:class:`~assistant.errors.AssistantError` (message + hint for the user, e.g. "the disk is
full") and an :class:`OSError` (so existing ``except OSError`` handlers keep working).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from assistant.errors import AssistantError
from assistant.paths import config_dir, data_dir

FILE_MODE = 0o600
DIR_MODE = 0o700


class PrivateWriteError(AssistantError, OSError):
    """A private file could not be written; the previous version (if any) is unchanged.

    Attributes:
        path: the file that was to be written.
        reason: the plain reason, e.g. ``"the disk is full"`` (:func:`describe_os_error`).
        errno: the underlying ``OSError.errno`` (e.g. ``errno.ENOSPC``), or None.
    """

    def __init__(self, path: Path, exc: OSError, what: str = "") -> None:
        self.path = Path(path)
        reason = describe_os_error(exc)
        thing = what or str(self.path)
        hint = ("Free some disk space and try again." if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                else f"Check that you can write to {self.path.parent}.")
        super().__init__(f"Could not save {thing}: {reason}; the previous version is unchanged.", hint)
        self.reason = reason
        self.errno = exc.errno
        self.strerror = exc.strerror
        self.filename = str(self.path)


def describe_os_error(exc: OSError) -> str:
    """A short, plain reason for an ``OSError``: ``"the disk is full"`` for ``ENOSPC``,
    ``"permission denied"`` for ``EACCES``/``EPERM``, else the system's message."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the disk is read-only"
    return (exc.strerror or type(exc).__name__).lower()


def _app_roots() -> list[Path]:
    return [config_dir(), data_dir()]


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents) with mode ``0700`` and return it.

    Folders created here are ``0700``. Existing folders inside (or equal to) the app's config
    or data folder that are wider — left by an older version — are narrowed to ``0700``; an
    existing folder outside them (a user-chosen trace folder) keeps its mode, and so does a
    shared folder (sticky bit, e.g. ``/tmp``), the home folder or ``/`` if a folder override
    points there.

    Raises:
        OSError: the folder cannot be created.
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            pass
    roots = _app_roots()
    for root in roots:
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        d = root
        for part in ("", *rel.parts):
            d = d / part if part else d
            _narrow(d, DIR_MODE)
        break
    return path


def _narrow(path: Path, mode: int) -> None:
    # Only our own folders: never a shared one (sticky bit, like /tmp, if a data folder
    # override points there), the home folder or "/".
    try:
        st = path.stat()
        if (st.st_uid != os.geteuid() or st.st_mode & stat.S_ISVTX or path == Path.home()
                or path == Path(path.anchor)):
            return
        if st.st_mode & 0o777 & ~mode:
            os.chmod(path, mode)
    except OSError:
        pass


def write_private(path: str | Path, data: bytes | str, *, what: str = "", encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically with mode ``0600`` (see the module docstring).

    Args:
        path: the file; its folder is created with :func:`private_dir`.
        data: the whole content (``str`` is encoded with ``encoding``).
        what: how an error names the file ("the note", "the settings"); default its path.
        encoding: text encoding for ``str`` data.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        PrivateWriteError: the folder or file could not be written (disk full, permission
            denied...). The previous file, if any, is unchanged and no temporary file is left.
    """
    path = Path(path)
    raw = data.encode(encoding) if isinstance(data, str) else bytes(data)
    tmp: str | None = None
    try:
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp already uses 0600; explicit for clarity
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        if isinstance(exc, PrivateWriteError):
            raise
        raise PrivateWriteError(path, exc, what) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path
