"""The database snapshot ``<TAG>-db.dump`` (``pg_dump --format=custom``) and its proof.

A dump nobody restored is a hope, not a backup: the snapshot counts as verified
only after it was restored into a scratch database on the same server and every
table there holds as many rows as the source. The connection URL is a secret:
it reaches the PostgreSQL tools only through ``PG*`` environment variables,
never argv (visible in ``ps``) and never a log line.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from console.capture.errors import CaptureError
from console.secrets import Secret, redact_text

PG_TIMEOUT = 1800.0
SCRATCH_PREFIX = "mrdj_verify_"

# URL query parameters libpq also reads from the environment.
_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
}

# Every user table with its row count, in one statement (query_to_xml runs the
# per-table count without a function having to be created on the server).
ROW_COUNTS_SQL = (
    "select format('%I.%I', schemaname, tablename), "
    "(xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', "
    "schemaname, tablename), false, true, '')))[1]::text "
    "from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1"
)
MIGRATION_HEAD_SQL = "select version from schema_migrations order by version desc limit 1"


@dataclass
class DumpVerification:
    verified: bool
    method: str  # "scratch-restore" or "archive-read"
    scratch_db: str | None = None
    source_counts: dict[str, int] = field(default_factory=dict)
    restored_counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        tables = len(self.source_counts)
        if self.verified:
            return f"restored into {self.scratch_db}: {tables} tables, row counts match the source"
        return "; ".join(self.problems) or "not verified"


class PostgresTools:
    """Runs pg_dump / pg_restore / psql / createdb / dropdb with the secret in the environment."""

    def __init__(self, database_url: Secret, bindir: str | None = None) -> None:
        self.secret = database_url
        self.env = pg_environment(database_url)
        self.dbname = self.env.get("PGDATABASE") or self.env.get("PGUSER") or "postgres"
        self._redact = [database_url]
        if self.env.get("PGPASSWORD"):
            self._redact.append(Secret(self.env["PGPASSWORD"]))
        self.bindir = bindir

    def _tool(self, name: str) -> str:
        return str(Path(self.bindir) / name) if self.bindir else name

    def run(
        self, argv: list[str], *, database: str | None = None, timeout: float = PG_TIMEOUT
    ) -> subprocess.CompletedProcess:
        env = dict(self.env)
        if database is not None:
            env["PGDATABASE"] = database
        try:
            return subprocess.run(
                [self._tool(argv[0]), *argv[1:]],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise CaptureError(f"{argv[0]} not found: install the PostgreSQL client tools") from None
        except subprocess.TimeoutExpired:
            raise CaptureError(f"{argv[0]} ran past {timeout:g}s and was stopped") from None

    def check(self, argv: list[str], what: str, **kwargs) -> str:
        result = self.run(argv, **kwargs)
        if result.returncode != 0:
            raise CaptureError(f"{what} failed (exit {result.returncode}): {self.clean(result.stderr)}")
        return result.stdout

    def clean(self, text: str) -> str:
        """Tool output fit for the screen: secrets redacted, bounded."""
        text = redact_text(text.strip(), self._redact)
        return text[-800:] if len(text) > 800 else text

    def query(self, sql: str, *, database: str | None = None) -> list[list[str]]:
        out = self.check(
            ["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            "psql query",
            database=database,
            timeout=300,
        )
        return [line.split("\t") for line in out.splitlines() if line]

    def row_counts(self, database: str | None = None) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in self.query(ROW_COUNTS_SQL, database=database)}

    def migration_head(self) -> str | None:
        rows = self.query(MIGRATION_HEAD_SQL)
        return rows[0][0] if rows and rows[0] and rows[0][0] else None


def pg_environment(database_url: Secret, base: dict[str, str] | None = None) -> dict[str, str]:
    """``PG*`` variables for a ``postgresql://`` URL (any PG* already set are dropped)."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("PG")}
    url = database_url.reveal()
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise CaptureError(f"capture.database_url ({database_url!r}) is not a postgresql:// URL")
    try:
        port = parts.port
    except ValueError:
        raise CaptureError(f"capture.database_url ({database_url!r}) has an invalid port") from None
    if parts.hostname:
        env["PGHOST"] = parts.hostname
    if port:
        env["PGPORT"] = str(port)
    if parts.username:
        env["PGUSER"] = unquote(parts.username)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    if parts.path.strip("/"):
        env["PGDATABASE"] = unquote(parts.path.lstrip("/"))
    for key, value in parse_qsl(parts.query):
        if key in _QUERY_ENV:
            env[_QUERY_ENV[key]] = value
    return env


def dump_database(tools: PostgresTools, path: Path) -> Path:
    """``pg_dump --format=custom`` into ``path`` (mode 0600, replaced only when complete)."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)  # pg_dump reopens it; the 0600 mode stays
    try:
        tools.check(["pg_dump", "--format=custom", "--no-password", f"--file={tmp}"], "pg_dump")
        if tmp.stat().st_size == 0:
            raise CaptureError("pg_dump wrote an empty file")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def compare_counts(source: dict[str, int], restored: dict[str, int]) -> list[str]:
    problems = []
    for table in sorted(set(source) | set(restored)):
        if table not in restored:
            problems.append(f"table {table} missing after restore")
        elif table not in source:
            problems.append(f"table {table} appeared after restore")
        elif source[table] != restored[table]:
            problems.append(f"table {table}: {source[table]} rows in the source, {restored[table]} restored")
    return problems


def scratch_name() -> str:
    return SCRATCH_PREFIX + secrets.token_hex(4)


def verify_dump(tools: PostgresTools, dump: Path, source_counts: dict[str, int]) -> DumpVerification:
    """Restore ``dump`` into a scratch database, compare row counts, drop the scratch database.

    Without the CREATEDB privilege the restore cannot happen: the archive is then
    read whole instead (``pg_restore -f -`` decodes every data block and its rows are
    counted), which catches a truncated or corrupt dump but proves less, so the
    snapshot stays unverified.
    """
    scratch = scratch_name()
    created = tools.run(["createdb", "--no-password", f"--maintenance-db={tools.dbname}", scratch], timeout=120)
    if created.returncode != 0:
        reason = tools.clean(created.stderr)
        result = read_archive(tools, dump, source_counts)
        result.problems.insert(
            0,
            f"no scratch database to restore into ({reason}); grant CREATEDB to the capture role to verify by restore",
        )
        result.verified = False
        return result
    result = DumpVerification(
        verified=False, method="scratch-restore", scratch_db=scratch, source_counts=dict(source_counts)
    )
    try:
        restore = tools.run(
            [
                "pg_restore",
                "--no-password",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={scratch}",
                str(dump),
            ]
        )
        if restore.returncode != 0:
            result.problems.append(f"pg_restore into {scratch} failed: {tools.clean(restore.stderr)}")
            return result
        result.restored_counts = tools.row_counts(database=scratch)
        result.problems.extend(compare_counts(source_counts, result.restored_counts))
        if not source_counts:
            result.problems.append("the source database has no tables to compare")
        result.verified = not result.problems
        return result
    except CaptureError as exc:
        result.problems.append(str(exc))
        return result
    finally:
        dropped = tools.run(
            ["dropdb", "--no-password", "--if-exists", f"--maintenance-db={tools.dbname}", scratch], timeout=120
        )
        if dropped.returncode != 0:
            result.problems.append(f"scratch database {scratch} could not be dropped: {tools.clean(dropped.stderr)}")
            result.verified = False


_COPY_START = re.compile(r"COPY (?P<table>\S+) \(.*\) FROM stdin;")


def read_archive(tools: PostgresTools, dump: Path, source_counts: dict[str, int]) -> DumpVerification:
    """Decode the whole archive to SQL and count the rows of each table's COPY block."""
    result = DumpVerification(verified=False, method="archive-read", source_counts=dict(source_counts))
    script = tools.run(["pg_restore", "--data-only", "--file=-", str(dump)])
    if script.returncode != 0:
        result.problems.append(f"pg_restore cannot read the dump: {tools.clean(script.stderr)}")
        return result
    counts: dict[str, int] = {}
    table = None
    for line in script.stdout.splitlines():
        if table is None:
            match = _COPY_START.fullmatch(line)
            if match:
                table = match["table"]
                counts[table] = 0
        elif line == "\\.":
            table = None
        else:
            counts[table] += 1
    # Empty tables still get a COPY block; tables only in the source are real gaps.
    result.restored_counts = counts
    result.problems.extend(compare_counts(source_counts, counts))
    return result
