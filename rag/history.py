"""The practice history: each graded attempt (question, topic, score, date) in SQLite.

One small database in the data directory (``Settings.home / "practice.sqlite"``),
shared by the CLI and the app, so it survives restarts. A file that is not a
readable database (truncated, overwritten, damaged pages) is never a crash: it is
moved aside to ``practice.sqlite.corrupt-<time>`` (the user's data is kept for
inspection), a new empty history is started, and ``History.notice`` says so.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rag.errors import UserError

__all__ = ["History", "Attempt", "TopicStats", "HISTORY_FILE", "history_path"]

HISTORY_FILE = "practice.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    topic TEXT,
    score REAL NOT NULL,
    created TEXT NOT NULL
)
"""


def history_path(home: Path) -> Path:
    """Where the practice history lives for a data directory."""
    return Path(home) / HISTORY_FILE


@dataclass(frozen=True)
class Attempt:
    """One graded answer: which question, its topic, the score (0-1) and when (UTC, ISO 8601)."""

    id: int
    question: str
    topic: str | None
    score: float
    created: str

    def to_json(self) -> dict:
        """The attempt as JSON."""
        return {"id": self.id, "question": self.question, "topic": self.topic, "score": round(self.score, 4),
                "created": self.created}


@dataclass(frozen=True)
class TopicStats:
    """How a topic has gone: attempts, mean and last score."""

    topic: str
    attempts: int
    mean_score: float
    last_score: float
    last: str


class History:
    """The practice history in ``path``; every method recovers from a corrupt file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.notice: str | None = None  # set when a corrupt file was moved aside
        self._lock = threading.Lock()
        self._run(lambda db: None)

    @classmethod
    def for_home(cls, home: Path) -> "History":
        """The history of a data directory (created on first use)."""
        return cls(history_path(home))

    # -- storage -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.OperationalError) as exc:
            raise UserError(f"cannot open the practice history {self.path}: {exc}") from None
        return db

    def _open(self) -> sqlite3.Connection:
        db = self._connect()
        try:
            db.execute(_SCHEMA)
            row = db.execute("PRAGMA quick_check").fetchone()
            if not row or row[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {row[0] if row else 'no answer'}")
            db.execute("SELECT id, question, topic, score, created FROM attempts LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _recover(self, exc: Exception) -> None:
        """Move the unreadable file aside (kept, never deleted) and start an empty history."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while backup.exists():
            n += 1
            backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            self.path.replace(backup)
            for suffix in ("-wal", "-shm", "-journal"):  # leftovers belong to the old file
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    side.replace(backup.with_name(backup.name + suffix))
        except OSError as err:
            raise UserError(f"the practice history {self.path} is damaged ({exc}) and cannot be moved aside: "
                            f"{err.strerror or err}") from None
        self.notice = (f"The practice history was damaged ({exc}); it was moved to {backup.name} "
                       "and a new, empty history was started.")

    def _run(self, work):
        """Run ``work(db)`` in a transaction; a corrupt file is moved aside and the work retried once."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    db = self._open()
                except sqlite3.DatabaseError as exc:
                    if attempt == 2:
                        raise UserError(f"the practice history {self.path} cannot be used: {exc}") from None
                    self._recover(exc)
                    continue
                try:
                    with db:
                        return work(db)
                except sqlite3.DatabaseError as exc:
                    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                        raise UserError(f"the practice history {self.path} is busy; try again") from None
                    if attempt == 2:
                        raise UserError(f"the practice history {self.path} cannot be used: {exc}") from None
                    db.close()
                    self._recover(exc)
                finally:
                    db.close()
        return None

    # -- the API -------------------------------------------------------------------

    def record(self, question: str, topic: str | None, score: float) -> Attempt:
        """Add a graded attempt (now, UTC) and return it."""
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")

        def work(db):
            cur = db.execute("INSERT INTO attempts (question, topic, score, created) VALUES (?, ?, ?, ?)",
                             (question, topic, float(score), created))
            return Attempt(int(cur.lastrowid), question, topic, float(score), created)

        return self._run(work)

    def attempts(self, limit: int | None = None) -> list[Attempt]:
        """Attempts, newest first."""
        sql = "SELECT id, question, topic, score, created FROM attempts ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._run(lambda db: [Attempt(*row) for row in db.execute(sql).fetchall()]) or []

    def topics(self) -> list[TopicStats]:
        """Practised topics, weakest (lowest mean score) first."""
        sql = """SELECT topic, COUNT(*), AVG(score),
                        (SELECT score FROM attempts b WHERE b.topic = a.topic ORDER BY id DESC LIMIT 1),
                        MAX(created)
                 FROM attempts a WHERE topic IS NOT NULL GROUP BY topic ORDER BY AVG(score), topic"""
        return self._run(lambda db: [TopicStats(t, n, float(m), float(last), when)
                                     for t, n, m, last, when in db.execute(sql).fetchall()]) or []

    def reset(self) -> int:
        """Delete every attempt; returns how many there were."""
        def work(db):
            n = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
            db.execute("DELETE FROM attempts")
            return int(n)

        return self._run(work)
