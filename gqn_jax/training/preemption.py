"""Polite stops: SIGTERM (a cloud's preemption notice) and Ctrl-C end a run with nothing lost.

While `StopSignals` is active, the first SIGTERM or SIGINT only raises a flag. The training loop
reads it after every step, saves a checkpoint of the step just finished and raises `RunStopped`,
whose `exit_code` the command line exits with: 143 after SIGTERM and 130 after SIGINT (128 + the
signal number, as shells report a signal's death), so 0 still means "finished". A second SIGINT
exits at once (code 130) without a checkpoint; the last saved one stays usable, since Orbax
renames a step's folder into place only when it is complete. Under IPython (Jupyter, Colab) a
second interrupt raises KeyboardInterrupt in the main thread instead: exiting would kill the
kernel and everything the notebook holds.

Why a watcher thread: Python runs signal handlers only between bytecodes of the main thread, and
the main thread may sit for minutes inside one XLA compile or step. The C-level handler also
writes the signal number to a wakeup socket; a daemon thread reading that socket raises the flag
and acts on a second Ctrl-C at once, whatever the main thread is doing.

Several processes: JAX's preemption service already turns a SIGTERM into a sync point
(`multihost_utils.reached_preemption_sync_point`) at which every process agrees to stop at the
same step, so only SIGINT is handled here and its flag is shared at the loop's collective checks.
"""

import os
import signal
import socket
import sys
import threading

from absl import logging
import jax
import numpy as np

EXIT_CODES = {signal.SIGTERM: 128 + signal.SIGTERM, signal.SIGINT: 128 + signal.SIGINT}


def _in_ipython():
  """True inside an IPython kernel or shell (Jupyter, Colab), where exiting loses the session."""
  ipython = sys.modules.get("IPython")
  return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


class RunStopped(Exception):
  """Training stopped on a signal after saving the checkpoint of `step`."""

  def __init__(self, signum, step, workdir):
    self.signum = signum
    self.step = step
    self.exit_code = EXIT_CODES[signum]
    super().__init__(
        f"stopped by {signal.Signals(signum).name} after step {step}; its checkpoint is in "
        f"{workdir}. Run the same command with the same --workdir to resume from step {step}.")


class StopSignals:
  """Context manager: catches SIGTERM and SIGINT (main thread only) and records the first one."""

  def __init__(self):
    self.signum = None  # the first stop signal received, or None
    self._previous_handlers = {}
    self._previous_wakeup_fd = None
    self._sockets = ()
    self._sigint_calls = 0  # of _note: under IPython the second one raises KeyboardInterrupt

  def _signals(self):
    if jax.process_count() > 1:
      return (signal.SIGINT,)  # SIGTERM belongs to JAX's preemption service there
    return (signal.SIGINT, signal.SIGTERM)

  def __enter__(self):
    if threading.current_thread() is not threading.main_thread():
      logging.warning("training runs outside the main thread: SIGTERM and Ctrl-C are not caught, "
                      "so a stop loses the steps since the last checkpoint")
      return self
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    self._sockets = (reader, writer)
    for signum in self._signals():
      self._previous_handlers[signum] = signal.signal(signum, self._note)
    self._previous_wakeup_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    threading.Thread(target=self._watch, args=(reader,), daemon=True,
                     name="gqn_jax-stop-signals").start()
    return self

  def __exit__(self, *exc_info):
    if not self._sockets:
      return False
    signal.set_wakeup_fd(self._previous_wakeup_fd)
    for signum, handler in self._previous_handlers.items():
      signal.signal(signum, handler)
    for sock in self._sockets:
      sock.close()  # ends the watcher's recv
    self._sockets = ()
    return False

  def _note(self, signum, frame):
    """The Python-level handler. It only replaces the default (KeyboardInterrupt, or death by
    SIGTERM): the watcher thread has already seen the same signal through the wakeup socket.
    Under IPython it counts its own SIGINT calls and raises KeyboardInterrupt at the second:
    counted here, in the main thread, so that it cannot race the watcher's count. (Two Ctrl-Cs
    during one long XLA call reach Python as one call: the run then stops politely, with its
    checkpoint, at the end of the step.)"""
    del frame
    if signum != signal.SIGINT or not _in_ipython():
      return
    self._sigint_calls += 1
    if self._sigint_calls >= 2:
      print("gqn_jax: second Ctrl-C: stopping without a checkpoint (KeyboardInterrupt; the "
            "kernel stays up)", file=sys.stderr, flush=True)
      raise KeyboardInterrupt("second Ctrl-C: training stopped without a checkpoint")

  def _record(self, signum):
    """Runs on the watcher thread for every caught signal, as soon as it arrives."""
    if signum not in self._previous_handlers:
      return
    if self.signum is None:
      self.signum = signum
      print(f"gqn_jax: {signal.Signals(signum).name} received: finishing the step in flight and "
            "saving a checkpoint (press Ctrl-C again to quit at once, losing the steps since the "
            "last checkpoint)", file=sys.stderr, flush=True)
    elif signum == signal.SIGINT and not _in_ipython():  # under IPython: _note raises instead
      print("gqn_jax: second Ctrl-C: quitting without a checkpoint", file=sys.stderr, flush=True)
      os._exit(EXIT_CODES[signal.SIGINT])  # pylint: disable=protected-access

  def _watch(self, reader):
    while True:
      try:
        data = reader.recv(64)
      except OSError:
        return
      if not data:
        return
      for signum in data:
        self._record(signum)

  def requested(self, step, log_every):
    """True on every process when this run should stop after `step` (a collective when several
    processes run: call it after every step, on all of them)."""
    if jax.process_count() == 1:
      return self.signum is not None
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    if multihost_utils.reached_preemption_sync_point(step):
      self.signum = self.signum or signal.SIGTERM
      return True
    if step % log_every:
      return False
    stop = multihost_utils.process_allgather(np.asarray(self.signum is not None))
    if np.any(stop):
      self.signum = self.signum or signal.SIGINT
      return True
    return False
