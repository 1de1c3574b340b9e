"""Error groups, kept by the store's writer with every batch (schema version 5).

For each batch the writer hands its rows to :meth:`ErrorGroups.prepare` before the batch's
transaction: every error row gets its fingerprint (store/fingerprint.py; cached, so a bug that
repeats is fingerprinted once), the fingerprint's group gets an id (registered, like names and
sources, in a short transaction of its own and cached once committed), and the row carries the
id. Inside the transaction, after the rollups, :func:`merge` / :func:`merge_sqlite` add the
batch to the groups' rows, their hourly buckets and their users: the same transaction as the
events, so a group's count is exactly its stored events, and the same lock order for every
writer (groups by id, then buckets by key, then users), so concurrent writers never deadlock
over them. Rows without an error cost one comparison each.

Counts are added by the database (``count = count + n``), never read and written back, so
writers in many processes at once cannot lose an occurrence. A resolved group that occurs
after it was resolved is reopened in the same statement and flagged as a regression.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from lookout.store.dialects import insert_ignoring_conflicts
from lookout.store.fingerprint import Fingerprint, fingerprint
from lookout.store.schema import error_groups, error_users

HOUR_S = 3600
_NS = 1_000_000_000
STATUSES = ("unresolved", "resolved", "ignored")
#: Fingerprints and seen users remembered per writer, each cache emptied when full.
MAX_CACHED = 20_000
#: Where an events-table row keeps what grouping reads (``EVENT_COLUMNS``).
_NAME, _START, _IS_ERROR, _STATUS, _SOURCE, _USER = 0, 1, 3, 4, 5, 7
_TYPE, _MESSAGE, _TRACEBACK, _GROUP = 11, 12, 13, 14

#: (group id, hour start in epoch seconds, name id, origin id)
BucketKey = tuple[int, int, int, int]


class GroupGone(Exception):
    """A cached group's row was deleted (retention) before the batch reached it: the writer
    forgets its cached groups and writes the batch again."""


@dataclass(slots=True)
class GroupDelta:
    """One group's share of a batch."""

    count: int = 0
    first_ns: int = 0
    first_version: str = ""
    last_ns: int = 0
    last_version: str = ""


@dataclass(slots=True)
class GroupBatch:
    """What a batch adds to the groups, ready for :func:`merge` inside its transaction."""

    groups: dict[int, GroupDelta] = field(default_factory=dict)
    buckets: dict[BucketKey, int] = field(default_factory=dict)
    users: set[tuple[int, str]] = field(default_factory=set)


class ErrorGroups:
    """One writer's error groups: fingerprints and group ids it has seen, and its batches.

    ``name_ids`` and ``source_ids`` are the writer's own caches (every id in a row is there);
    ``origin_of`` gives a source's origin (registered before this is called).
    """

    def __init__(
        self,
        engine: Engine,
        name_ids: dict[tuple[str, str], int],
        source_ids: dict[tuple[str, int, str], int],
        origin_of: Callable[[int], int],
    ) -> None:
        self.engine = engine
        self._name_ids = name_ids
        self._source_ids = source_ids
        self._origin_of = origin_of
        self._fingerprints: dict[tuple[Any, ...], Fingerprint] = {}
        self._group_ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._versions: dict[int, str] = {}
        self._seen_users: set[tuple[int, str]] = set()

    def forget(self) -> None:
        """Drop the cached group ids (after :class:`GroupGone`)."""
        self._group_ids.clear()
        self._seen_users.clear()

    def prepare(self, rows: list[tuple[Any, ...]]) -> GroupBatch | None:
        """Set the group id of the batch's error rows (in place) and return what the batch
        adds to the groups; None when it has no error. Call before the batch's transaction."""
        errors = [index for index, row in enumerate(rows) if row[_IS_ERROR] == 1]
        if not errors:
            return None
        prints = [self._fingerprint(rows[index]) for index in errors]
        missing = {p.key for p in prints}.difference(self._group_ids)
        if missing:
            self._register([(p, rows[i]) for p, i in zip(prints, errors, strict=True)], missing)
        batch = GroupBatch()
        for index, print_ in zip(errors, prints, strict=True):
            row = rows[index]
            group_id = self._group_ids[print_.key]
            rows[index] = (*row[:_GROUP], group_id)
            start: int = row[_START]
            version = self._version(row[_SOURCE])
            delta = batch.groups.get(group_id)
            if delta is None:
                batch.groups[group_id] = GroupDelta(1, start, version, start, version)
            else:
                delta.count += 1
                if start < delta.first_ns:
                    delta.first_ns, delta.first_version = start, version
                if start > delta.last_ns:
                    delta.last_ns, delta.last_version = start, version
            key = (
                group_id,
                start // _NS // HOUR_S * HOUR_S,
                row[_NAME],
                self._origin_of(row[_SOURCE]),
            )
            batch.buckets[key] = batch.buckets.get(key, 0) + 1
            user = row[_USER]
            if type(user) is str and user:
                seen = (group_id, user[:255])
                if seen not in self._seen_users:
                    batch.users.add(seen)
        return batch

    def committed(self, batch: GroupBatch) -> None:
        """Remember the users a committed batch stored (they need no insert again)."""
        if len(self._seen_users) + len(batch.users) > MAX_CACHED:
            self._seen_users.clear()
        self._seen_users.update(batch.users)

    def _fingerprint(self, row: tuple[Any, ...]) -> Fingerprint:
        error_type = row[_TYPE] if type(row[_TYPE]) is str else None
        message = row[_MESSAGE] if type(row[_MESSAGE]) is str else None
        traceback = row[_TRACEBACK] if type(row[_TRACEBACK]) is str else None
        status = row[_STATUS] if type(row[_STATUS]) is int else None
        # A traceback decides alone (with the type); otherwise the message, or name and status.
        key = (
            (error_type, traceback)
            if traceback
            else (error_type, message, row[_NAME] if not (error_type or message) else 0, status)
        )
        found = self._fingerprints.get(key)
        if found is None:
            if len(self._fingerprints) >= MAX_CACHED:
                self._fingerprints.clear()
            found = fingerprint(error_type, message, traceback, self._name(row[_NAME]), status)
            self._fingerprints[key] = found
        return found

    def _name(self, name_id: int) -> str:
        name = self._names.get(name_id)
        if name is None:
            self._names = {ident: key[1] for key, ident in self._name_ids.items()}
            name = self._names.get(name_id, str(name_id))
        return name

    def _version(self, source_id: int) -> str:
        version = self._versions.get(source_id)
        if version is None:
            self._versions = {ident: key[2] for key, ident in self._source_ids.items()}
            version = self._versions.get(source_id, "")
        return version

    def _register(self, found: list[tuple[Fingerprint, tuple[Any, ...]]], keys: set[str]) -> None:
        """Give new fingerprints a group row and an id, in a transaction of their own."""
        first: dict[str, dict[str, Any]] = {}
        for print_, row in found:
            if print_.key in keys and print_.key not in first:
                version = self._version(row[_SOURCE])
                message = row[_MESSAGE] if type(row[_MESSAGE]) is str else ""
                first[print_.key] = {
                    "fingerprint": print_.key,
                    "error_type": print_.error_type[:255],
                    "message": message[:2000],
                    "culprit": print_.culprit,
                    "first_ns": row[_START],
                    "last_ns": row[_START],
                    "count": 0,
                    "first_version": version,
                    "last_version": version,
                    "status": "unresolved",
                    "status_ns": 0,
                    "regression": 0,
                }
        ordered = sorted(first)
        with self.engine.begin() as connection:
            connection.execute(
                insert_ignoring_conflicts(connection, error_groups),
                [first[key] for key in ordered],
            )
            # Rows, typed as tuples but not tuples: Any, or the compiled build checks them
            stored: Sequence[Any] = connection.execute(
                select(error_groups.c.fingerprint, error_groups.c.id).where(
                    error_groups.c.fingerprint.in_(ordered)
                )
            ).all()
        for ids in stored:
            self._group_ids[str(ids[0])] = int(ids[1])


_UPDATE_GROUP = """UPDATE lookout_error_groups SET
  count = count + :n,
  first_version = CASE WHEN :first_ns < first_ns THEN :first_version ELSE first_version END,
  first_ns = CASE WHEN :first_ns < first_ns THEN :first_ns ELSE first_ns END,
  last_version = CASE WHEN :last_ns > last_ns THEN :last_version ELSE last_version END,
  last_ns = CASE WHEN :last_ns > last_ns THEN :last_ns ELSE last_ns END,
  regressed_ns = CASE WHEN status = 'resolved' AND :last_ns > status_ns
    THEN :last_ns ELSE regressed_ns END,
  regression = CASE WHEN status = 'resolved' AND :last_ns > status_ns THEN 1 ELSE regression END,
  status = CASE WHEN status = 'resolved' AND :last_ns > status_ns
    THEN 'unresolved' ELSE status END
WHERE id = :id"""
# The assignments are in this order because MySQL/MariaDB evaluate them left to right, each
# seeing the ones before (PostgreSQL and SQLite see the old row in all): a version is set
# before its time, the regression before the status it reads.

_BUCKET_COLUMNS = "(group_id, bucket_start, name_id, origin_id, count)"
_BUCKET_VALUES = "VALUES (:group_id, :bucket_start, :name_id, :origin_id, :count)"
_UPSERT_BUCKET = {
    "sqlite": f"INSERT INTO lookout_error_buckets {_BUCKET_COLUMNS} {_BUCKET_VALUES} "
    "ON CONFLICT (group_id, bucket_start, name_id, origin_id) "
    "DO UPDATE SET count = lookout_error_buckets.count + excluded.count",
    "mysql": f"INSERT INTO lookout_error_buckets {_BUCKET_COLUMNS} {_BUCKET_VALUES} "
    "ON DUPLICATE KEY UPDATE count = count + VALUES(count)",
}
_UPSERT_BUCKET["postgresql"] = _UPSERT_BUCKET["sqlite"]
_UPSERT_BUCKET["mariadb"] = _UPSERT_BUCKET["mysql"]


def _group_params(batch: GroupBatch) -> list[dict[str, Any]]:
    return [
        {
            "id": group_id,
            "n": delta.count,
            "first_ns": delta.first_ns,
            "first_version": delta.first_version,
            "last_ns": delta.last_ns,
            "last_version": delta.last_version,
        }
        for group_id, delta in sorted(batch.groups.items())
    ]


def _bucket_params(batch: GroupBatch) -> list[dict[str, Any]]:
    return [
        {"group_id": g, "bucket_start": b, "name_id": n, "origin_id": o, "count": count}
        for (g, b, n, o), count in sorted(batch.buckets.items())
    ]


def _user_params(batch: GroupBatch) -> list[dict[str, Any]]:
    return [{"group_id": g, "user_key": user} for g, user in sorted(batch.users)]


def merge(connection: Connection, batch: GroupBatch | None) -> None:
    """Add a batch to its groups, buckets and users within the caller's transaction
    (PostgreSQL, MySQL/MariaDB); :class:`GroupGone` when a group's row no longer exists."""
    if batch is None:
        return
    update = text(_UPDATE_GROUP)
    for params in _group_params(batch):  # one by one: each must have found its row
        if connection.execute(update, params).rowcount != 1:
            raise GroupGone(params["id"])
    connection.execute(text(_UPSERT_BUCKET[connection.dialect.name]), _bucket_params(batch))
    if batch.users:
        connection.execute(insert_ignoring_conflicts(connection, error_users), _user_params(batch))


def merge_sqlite(cursor: Any, batch: GroupBatch | None) -> None:
    """:func:`merge` on the SQLite writer's cursor inside its ``BEGIN IMMEDIATE``."""
    if batch is None:
        return
    for params in _group_params(batch):
        cursor.execute(_UPDATE_GROUP, params)
        if cursor.rowcount != 1:
            raise GroupGone(params["id"])
    cursor.executemany(_UPSERT_BUCKET["sqlite"], _bucket_params(batch))
    if batch.users:
        cursor.executemany(
            "INSERT OR IGNORE INTO lookout_error_users (group_id, user_key) "
            "VALUES (:group_id, :user_key)",
            _user_params(batch),
        )


def set_status(engine: Engine, group_id: int, status: str, *, now_ns: int | None = None) -> bool:
    """Mark a group unresolved, resolved or ignored (an admin's action); clears its regression
    flag. False when no such group exists. A resolved group that occurs after ``now_ns`` is
    reopened by the writer as a regression."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    with engine.begin() as connection:
        updated = connection.execute(
            error_groups.update()
            .where(error_groups.c.id == group_id)
            .values(
                status=status,
                status_ns=time.time_ns() if now_ns is None else now_ns,
                regression=0,
            )
        ).rowcount
    return bool(updated == 1)
