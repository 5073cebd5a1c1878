"""The trained-model cache: write a project's training data out and train it once.

Trained models are cached in ``<root>/<hash>/model.tar.gz`` (``root`` is
``cache_dir()/"rasa"`` by default) where the hash covers every YAML file, the config and
the Rasa version, so an unchanged set of skills never trains twice. ``rasa train``'s
output goes to ``train.log`` in that folder and is quoted in errors, never printed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from assistant.errors import NLUError
from assistant.nlu.children import (
    Children,
    boot_script,
    file_lock,
    log_excerpt,
    popen,
    boot_env,
    tail,
    terminate,
)
from assistant.nlu.config import config_yaml
from assistant.nlu.interpreter import child_env, find_rasa_python, rasa_version
from assistant.nlu.project import RasaProject

log = logging.getLogger(__name__)

#: Bump when the layout of the work folder or the way Rasa is invoked changes.
_LAYOUT_VERSION = "1"
MODEL_NAME = "model"
_KEEP_MODELS = 6

#: ``progress(task, fraction in [0, 1] or -1, message)``: how training reports progress.
ProgressFn = Callable[[str, float, str], None]


class ModelCache:
    """One project's trained Rasa model, cached by hash below ``root``.

    Args:
        project: the training data (fallback rule already added).
        config: the Rasa config (``build_config``).
        python_setting: ``settings.nlu.python`` (a Python path or None: search).
        root: the cache root; each trained project gets a ``<hash>/`` folder below it.
        children: the owner's child processes (``rasa train`` is tracked there).
        progress: receives ``("nlu-train", fraction, message)`` while training.
        rundir: returns the owner's private run folder (the boot script goes there).

    Attributes:
        python: Rasa's interpreter (after :meth:`resolve_python`), or None.
        rasa_version: its rasa version (e.g. ``"3.6.21"``), "" before.
        workdir: the ``<hash>`` folder of this project (after :meth:`ensure_trained`).
        model_path: the trained ``model.tar.gz`` (after :meth:`ensure_trained`).
        trained: True if the last :meth:`ensure_trained` ran ``rasa train``, False if it
            was a cache hit, None before.
        train_seconds: duration of that training, seconds (0.0 on a cache hit).
    """

    def __init__(self, project: RasaProject, config: dict, python_setting: Optional[str | os.PathLike],
                 root: Path, children: Children, progress: ProgressFn, rundir: Callable[[], Path]) -> None:
        self.project = project
        self.config = config
        self.root = root
        self._python_setting = python_setting
        self._children = children
        self._progress = progress
        self._rundir = rundir
        self.python: Optional[Path] = None
        self.rasa_version = ""
        self.workdir: Optional[Path] = None
        self.model_path: Optional[Path] = None
        self.trained: Optional[bool] = None
        self.train_seconds = 0.0

    def files(self) -> dict[str, str]:
        """``{relative path: YAML text}`` of the training folder (``config.yml`` included)."""
        files = dict(self.project.yaml_files())
        files["config.yml"] = config_yaml(self.config)
        return files

    def resolve_python(self) -> Path:
        """Rasa's Python (found once, then remembered).

        Raises:
            NLUError: no Python 3.10 with rasa 3.6 (see :func:`find_rasa_python`).
        """
        if self.python is None:
            python = find_rasa_python(self._python_setting)
            self.rasa_version = rasa_version(python)
            self.python = python
        return self.python

    def project_hash(self) -> str:
        """sha256 (hex) over the YAML files, the config, the Rasa version and the work-folder
        layout version: the cache key of the trained model.

        Raises:
            NLUError: Rasa's Python cannot be found (its version is part of the hash).
        """
        self.resolve_python()
        h = hashlib.sha256()
        for name, text in sorted(self.files().items()):
            h.update(name.encode() + b"\0" + text.encode("utf-8") + b"\0")
        h.update(f"rasa={self.rasa_version};layout={_LAYOUT_VERSION}".encode())
        return h.hexdigest()

    def ensure_trained(self, timeout: float = 1800.0) -> Path:
        """Write the project into its cache folder and train it unless already trained.

        The folder is ``<root>/<first 20 hex digits of project_hash()>/``; it holds
        ``domain.yml``, ``data/*.yml``, ``config.yml``, ``model.tar.gz`` and ``train.log``.
        Reports progress (task ``"nlu-train"``) while training. Not thread-safe: the
        owner holds its lock.

        Args:
            timeout: give up training after this many seconds.

        Returns:
            Path of ``model.tar.gz``.

        Raises:
            NLUError: no usable Rasa Python, or training failed / timed out (the message
                quotes the last meaningful lines of Rasa's output; the hint names the log).
        """
        python = self.resolve_python()
        digest = self.project_hash()
        folder = self.root / digest[:20]
        model = folder / f"{MODEL_NAME}.tar.gz"
        self.workdir, self.model_path = folder, model
        if model.exists():
            self._cache_hit(folder)
            return model
        folder.mkdir(parents=True, exist_ok=True)
        with file_lock(folder / ".train.lock"):
            if model.exists():  # another process trained it while we waited
                self._cache_hit(folder)
                return model
            for rel, text in self.files().items():
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            self._train(python, folder, model, timeout)
        self._prune(keep=_KEEP_MODELS, current=folder)
        return model

    def _cache_hit(self, folder: Path) -> None:
        self.trained, self.train_seconds = False, 0.0
        with contextlib.suppress(OSError):
            (folder / ".last_used").touch()
        log.info("Rasa model cache hit: %s", folder)
        self._progress("nlu-train", 1.0, "Using the cached language model.")

    def _train(self, python: Path, folder: Path, model: Path, timeout: float) -> None:
        tmp_out = folder / "models-tmp"
        shutil.rmtree(tmp_out, ignore_errors=True)
        log_path = folder / "train.log"
        n_steps = max(1, len(self.config["pipeline"]) - 2 + len(self.config["policies"]))
        cmd = [str(python), str(boot_script(self._rundir())), "train", "--config", "config.yml",
               "--domain", "domain.yml", "--data", "data", "--out", str(tmp_out), "--fixed-model-name", MODEL_NAME]
        env = child_env(ASSISTANT_PARENT_PID=str(os.getpid()), **boot_env(self.config),
                        RASA_CACHE_DIRECTORY=str(self.root / "training-cache"), RASA_MAX_CACHE_SIZE="300")
        self._progress("nlu-train", 0.0, "Training the language model…")
        t0 = time.monotonic()
        with log_path.open("w", encoding="utf-8") as logf:
            proc = popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, encoding="utf-8", errors="replace", bufsize=1)
            self._children.add(proc)
            timer = threading.Timer(timeout, terminate, args=(proc, 2.0))
            timer.daemon = True
            timer.start()
            done = 0
            try:
                assert proc.stdout is not None
                for line in proc.stdout:  # universal newlines: progress bars' \r split too
                    logf.write(line if line.endswith("\n") else line + "\n")
                    if "Finished training component" in line:
                        done += 1
                        comp = line.split("component", 1)[1].strip(" '.\n")
                        self._progress("nlu-train", min(0.95, done / n_steps), f"Trained {comp}.")
                rc = proc.wait()
            finally:
                timer.cancel()
                self._children.discard(proc)
                if proc.poll() is None:
                    terminate(proc, 2.0)
        elapsed = time.monotonic() - t0
        produced = tmp_out / f"{MODEL_NAME}.tar.gz"
        if rc != 0 or not produced.exists():
            why = "timed out" if elapsed >= timeout else f"failed (exit code {rc})"
            excerpt = log_excerpt(tail(log_path))
            self._progress("nlu-train", 1.0, "Training the language model failed.")
            raise NLUError(f"Training the language model {why}: {excerpt or 'Rasa printed nothing.'}",
                           f"Rasa's full output is in {log_path}.")
        os.replace(produced, model)
        shutil.rmtree(tmp_out, ignore_errors=True)
        (folder / ".last_used").touch()
        self.trained, self.train_seconds = True, elapsed
        log.info("trained the Rasa model in %.1f s: %s", elapsed, model)
        self._progress("nlu-train", 1.0, f"Language model trained in {elapsed:.0f} s.")

    def _prune(self, keep: int, current: Path) -> None:
        """Delete all but the ``keep`` most recently used model folders (never ``current``
        nor one used in the last 10 minutes)."""
        try:
            folders = [p for p in self.root.iterdir()
                       if p.is_dir() and re.fullmatch(r"[0-9a-f]{20}", p.name)]
        except OSError:
            return

        def last_used(p: Path) -> float:
            try:
                return (p / ".last_used").stat().st_mtime
            except OSError:
                return p.stat().st_mtime

        folders.sort(key=last_used, reverse=True)
        for p in folders[keep:]:
            if p != current and time.time() - last_used(p) > 600:
                shutil.rmtree(p, ignore_errors=True)
