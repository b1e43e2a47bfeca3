"""The score scan's child process (``sqlitescan``): run the SQL read from stdin against
the SQLite database file named by the argument, read-only, with the ADBC SQLite driver, and
write the rows to stdout as an Arrow IPC stream.  Run as a script, not imported: a
process of its own keeps the driver's copy of the SQLite library away from the app's."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote


def main() -> None:
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    path = Path(sys.argv[1]).resolve()
    with adbc.connect(f"file:{quote(str(path))}?mode=ro") as connection, \
            connection.cursor() as cursor:
        cursor.execute(sys.stdin.read())
        table = cursor.fetch_arrow_table()
    with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as stream:
        stream.write_table(table)


if __name__ == "__main__":
    main()
