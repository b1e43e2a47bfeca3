"""The score scan's child process (``sqlitescan``): run the SQL read from stdin against
the SQLite database file named by the first argument, read-only, with the ADBC SQLite
driver, and write the rows as an Arrow IPC stream to the file named by the second (the
parent maps it: no copy through a pipe).  Run as a script, not imported: a process of its
own keeps the driver's copy of the SQLite library away from the app's."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

# Pages read through a memory map rather than a read call each (SQLite, "Memory-Mapped
# I/O"): about an eighth less time for a scan of the whole score table.
MMAP_BYTES = 1 << 34
BATCH_ROWS = 65_536  # rows per Arrow batch (the driver's default, 1,024, makes 9,000 pieces)


def main() -> None:
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    path = Path(sys.argv[1]).resolve()
    with adbc.connect(f"file:{quote(str(path))}?mode=ro") as connection, \
            connection.cursor() as cursor:
        cursor.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        cursor.fetchall()
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
        cursor.execute(sys.stdin.read())
        table = cursor.fetch_arrow_table()
    with pa.OSFile(sys.argv[2], "wb") as out, pa.ipc.new_stream(out, table.schema) as stream:
        stream.write_table(table)


if __name__ == "__main__":
    main()
