"""Embeddings of a frozen encoder, computed once per audio window and kept on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import weakref
from pathlib import Path

import torch
from torch import Tensor

log = logging.getLogger(__name__)


def window_keys(waveforms: Tensor) -> list[str]:
    """One key per row of ``waveforms`` [B, T]: a BLAKE2b digest of its float32 samples.

    The same window of the same file, decoded and resampled the same way, gets the same key
    whoever asks (training episodes, evaluation, the probe, enrolment), so the cache needs no
    knowledge of datasets or indexes.
    """
    rows = waveforms.detach().to("cpu", torch.float32).contiguous().numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in rows]


#: The caches open in this process, by folder: ``(rows, keys not yet written)``.
_OPEN: dict[str, tuple[dict, list]] = {}


class EmbeddingCache:
    """Embeddings ``[D]`` by window key, for one encoder identity, in a folder of shards.

    Shards are ``<directory>/<identity>/part-<pid>-<n>.pt`` files, each ``{"keys": [...],
    "rows": [N, D]}``, written atomically (a temporary file, then a rename). All shards are
    read when the cache opens; new rows are written every ``flush_every`` rows, by
    :meth:`flush`, and when the process exits. Caches of one folder opened in one process
    (a notebook's second evaluation) share their rows. Processes never write to each other's shards,
    so DDP ranks and parallel runs can share a folder.

    Args:
        directory: the cache's root folder.
        identity: what makes two encoders' embeddings interchangeable (class, weights,
            settings); one sub-folder each.
        flush_every: new rows held in memory before a shard is written.
    """

    def __init__(self, directory: str | Path, identity: str, flush_every: int = 2048) -> None:
        self.folder = Path(directory).expanduser() / identity
        self.flush_every = flush_every
        self.hits = self.misses = 0
        self._shards_written = 0
        shared = _OPEN.get(str(self.folder.resolve()))
        if shared is None:
            self.rows: dict[str, Tensor] = {}
            self.pending: list[str] = []
            self._load()
            _OPEN[str(self.folder.resolve())] = (self.rows, self.pending)
        else:  # another encoder of this process opened it: share its rows, written or not
            self.rows, self.pending = shared
        # at garbage collection or interpreter exit, whichever comes first
        weakref.finalize(self, EmbeddingCache._flush_rows, self.folder, self.rows,
                         self.pending, [0])  # fmt: skip

    def __len__(self) -> int:
        return len(self.rows)

    def _load(self) -> None:
        if not self.folder.is_dir():
            return
        for shard in sorted(self.folder.glob("part-*.pt")):
            try:
                content = torch.load(shard, map_location="cpu", weights_only=True)
            except Exception as error:  # a shard cut short by a killed process
                log.warning("embedding cache: skipping unreadable %s (%s)", shard, error)
                continue
            self.rows.update(zip(content["keys"], content["rows"].unbind(0), strict=True))
        if self.rows:
            log.info("embedding cache: %d windows from %s", len(self.rows), self.folder)

    def lookup(self, keys: list[str]) -> tuple[list[int], Tensor | None]:
        """The positions of ``keys`` already cached and their rows ``[n_hit, D]`` (None if
        none hit)."""
        found = [i for i, key in enumerate(keys) if key in self.rows]
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        if not found:
            return found, None
        return found, torch.stack([self.rows[keys[i]] for i in found])

    def store(self, keys: list[str], rows: Tensor) -> None:
        """Add ``rows`` [n, D] under ``keys``; writes a shard once enough are pending."""
        rows = rows.detach().to("cpu", torch.float32)
        for key, row in zip(keys, rows.unbind(0), strict=True):
            if key not in self.rows:
                self.rows[key] = row.clone()
                self.pending.append(key)
        if len(self.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write the rows added since the last flush as a new shard."""
        counter = [self._shards_written]
        EmbeddingCache._flush_rows(self.folder, self.rows, self.pending, counter)
        self._shards_written = counter[0]

    @staticmethod
    def _flush_rows(folder: Path, rows: dict, pending: list, counter: list) -> None:
        if not pending:
            return
        folder.mkdir(parents=True, exist_ok=True)
        keys = list(pending)
        while True:
            shard = folder / f"part-{os.getpid()}-{counter[0]:05d}.pt"
            counter[0] += 1
            if not shard.exists():
                break
        partial = shard.with_suffix(".tmp")
        torch.save({"keys": keys, "rows": torch.stack([rows[k] for k in keys])}, partial)
        partial.replace(shard)
        pending.clear()
