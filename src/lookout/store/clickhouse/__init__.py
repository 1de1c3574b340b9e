"""The ClickHouse store: raw events in a MergeTree, rollups merged by the server.

For fleets that one SQL server cannot hold (see docs/clickhouse.md). Small modules, one job
each: :mod:`.url` (the ``clickhouse://`` URL), :mod:`.schema` (tables and materialized views),
:mod:`.store` (connections and the SQL settings store beside ClickHouse), :mod:`.writer`
(batches of Events as column blocks), :mod:`.sink` (the Recorder's sink), :mod:`.retention`
(dropping day partitions) and :mod:`.queries` (the read side the CLI and dashboard use).
The client library, clickhouse-driver, is imported only when a ClickHouse store is opened.
"""
