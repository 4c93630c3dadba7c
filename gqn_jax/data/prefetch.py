"""Training batches made ahead of the step by a background thread, for iterators whose batch b
is a pure function of b (the procedural scene stream, posed scene files).

The position is one integer, the number of batches handed out (`get_state`, `set_state`): a
checkpoint holds that counter, never a buffer, and a resumed run continues with exactly the
batches an uninterrupted one would have seen. An error in `make_batch` is raised in the training
loop, at the batch that failed.
"""

import queue
import threading


class PrefetchedBatches:
  """An endless iterator over `make_batch(0), make_batch(1), ...`, `prefetch_batches` ahead."""

  thread_name = "gqn_jax-batches"

  def __init__(self, prefetch_batches=4):
    self._prefetch_batches = prefetch_batches
    self._position = 0  # batches handed out so far
    self._thread = self._queue = self._stop = None

  def make_batch(self, batch_index):
    """Batch `batch_index`, computed directly (the thread calls this too)."""
    raise NotImplementedError

  def __iter__(self):
    return self

  def __next__(self):
    if self._thread is None:
      self._start(self._position)
    item = self._queue.get()
    if isinstance(item, Exception):  # making the batch failed: raise it here, in the loop
      self._thread = None
      raise item
    self._position += 1
    return item

  def _start(self, position):
    self._queue = queue.Queue(maxsize=self._prefetch_batches)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._produce, args=(position, self._queue, self._stop),
                                    name=self.thread_name, daemon=True)
    self._thread.start()

  def _produce(self, position, out, stop):
    batch_index = position
    while not stop.is_set():
      try:
        item = self.make_batch(batch_index)
      except Exception as error:  # pylint: disable=broad-except
        item = error
      while not stop.is_set():
        try:
          out.put(item, timeout=0.1)
          break
        except queue.Full:
          continue
      if isinstance(item, Exception):
        return
      batch_index += 1

  def close(self):
    """Stops the background thread (also done by `set_state`)."""
    if self._thread is not None:
      self._stop.set()
      self._thread.join()
      self._thread = None

  def get_state(self):
    """What a checkpoint holds: {'batches': batches handed out so far}."""
    return {"batches": self._position}

  def set_state(self, state):
    """Continue after `state['batches']` batches, as `get_state` gave it."""
    self.close()
    self._position = int(state["batches"])
