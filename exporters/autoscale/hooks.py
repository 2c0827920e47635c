"""Tell the outside world about decisions: a webhook (HTTP POST of the decision JSON) and a command hook.

Both run on one worker thread of their own with a bounded queue, so a slow receiver never
delays an evaluation; when the queue is full the oldest notice is dropped and logged (a newer
decision for the same service follows anyway). Failures are logged, never raised.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
WEBHOOK_TIMEOUT = 5.0
COMMAND_TIMEOUT = 60.0


def hook_environment(decision: Mapping[str, Any], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The command hook's environment: ``base`` (ours when None) plus OBSERVE_SERVICE/DESIRED/CURRENT."""
    env = dict(os.environ if base is None else base)
    env["OBSERVE_SERVICE"] = str(decision["service"])
    env["OBSERVE_DESIRED"] = str(decision["desired_replicas"])
    env["OBSERVE_CURRENT"] = str(decision["current_replicas"])
    return env


def post_json(url: str, document: Mapping[str, Any], timeout: float = WEBHOOK_TIMEOUT) -> int:
    """POST ``document`` as JSON; returns the HTTP status.

    Raises:
        OSError: the receiver could not be reached or answered with an error status (urllib's errors).
    """
    body = json.dumps(document, separators=(",", ":")).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "observe-autoscale"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # the URL is the operator's own setting
        response.read()
        return int(response.status)


def run_command(command: str, document: Mapping[str, Any], timeout: float = COMMAND_TIMEOUT) -> int:
    """Run ``command`` through ``sh -c`` with the decision JSON on stdin; returns its exit status.

    Raises:
        OSError: the shell could not be started.
        subprocess.TimeoutExpired: it ran longer than ``timeout`` (it is killed).
    """
    body = json.dumps(document, separators=(",", ":")) + "\n"
    done = subprocess.run(["/bin/sh", "-c", command], input=body.encode(), env=hook_environment(document),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        log.warning("autoscale command hook failed", extra={"event": "AutoscaleCommandFailed",
                                                            "status": done.returncode, "stderr": tail[0]})
    return done.returncode


class Hooks:
    """Delivers decision documents to the webhook and the command, in order, on a thread of its own.

    Args:
        webhook: URL to POST to ("" for none).
        command: shell command to run ("" for none).
    """

    def __init__(self, webhook: str = "", command: str = "") -> None:
        self.webhook = webhook
        self.command = command
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.webhook or self.command)

    def notify(self, document: Mapping[str, Any]) -> None:
        """Queue one decision document (a no-op without hooks). Never blocks."""
        if not self.enabled:
            return
        self._ensure_thread()
        while True:
            try:
                self._queue.put_nowait(document)
                return
            except queue.Full:
                try:
                    dropped = self._queue.get_nowait()
                except queue.Empty:
                    continue
                log.warning("autoscale hooks are behind: a notice was dropped",
                            extra={"event": "AutoscaleHookDropped",
                                   "service": dropped.get("service") if dropped else None})

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="observe-autoscale-hooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            document = self._queue.get()
            if document is None:
                return
            self.deliver(document)

    def deliver(self, document: Mapping[str, Any]) -> bool:
        """Send one document to every hook now (on the caller's thread); True when all succeeded."""
        ok = True
        if self.webhook:
            try:
                post_json(self.webhook, document)
            except (OSError, ValueError) as err:
                ok = False
                reason = getattr(err, "reason", None) or err
                log.warning("autoscale webhook failed", extra={"event": "AutoscaleWebhookFailed",
                                                              "url": self.webhook, "error": str(reason)})
        if self.command:
            try:
                ok = run_command(self.command, document) == 0 and ok
            except (OSError, subprocess.TimeoutExpired) as err:
                ok = False
                log.warning("autoscale command hook failed", extra={"event": "AutoscaleCommandFailed",
                                                                    "error": str(err)})
        with self._lock:
            if ok:
                self.delivered += 1
            else:
                self.failed += 1
        return ok

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within ``timeout`` seconds), then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)
