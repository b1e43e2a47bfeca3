"""Operations on the whole database: consistent backups and restores into an empty database."""
