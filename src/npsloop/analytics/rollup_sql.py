"""The database triggers that keep `response_daily` and the per-organisation data version
exact on every write, whoever makes it (see analytics.rollup for why triggers).

PostgreSQL: statement-level AFTER triggers with transition tables, so a bulk INSERT ...
SELECT, a retention UPDATE of thousands of rows or a cascaded DELETE costs one aggregate
per statement, not one upsert per row. Additions are one `INSERT ... ON CONFLICT DO UPDATE
SET n = n + excluded.n` in key order (two concurrent ingests both add; rows are locked in
the same order, so they queue instead of deadlocking); subtractions are an UPDATE of the
existing rows (never an upsert: a row of a deleted organisation must not be re-created),
then the rows that reached zero are deleted. Each statement first increments the
organisation's `analytics_rollup_state.data_version`, which locks that row until commit:
writers of one organisation and `rollup.rebuild` are serialised by it, so a rebuild
never misses or double-counts a concurrent insert.

SQLite: row-level triggers (it has no statement-level ones) doing the same per row; SQLite
has one writer at a time anyway. Local days use the UTC offset stored in the state row,
the same shift the raw SQLite queries use (analytics.service.time_bucket).

Rows are only added to an organisation's rollup while its state row says it is built
(`timezone` set, and on SQLite `utc_offset_minutes` set): before that, only the data
version moves and readers use raw rows.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

COUNT_COLUMNS = ("n", "promoters", "passives", "detractors", "score_sum")
KEY_COLUMNS = ("org_id", "day", "survey_id", "channel", "language", "status")
KEYS = ", ".join(KEY_COLUMNS)
RELEVANT = ("org_id", "survey_id", "submitted_at", "channel", "language", "status", "score")

# --- PostgreSQL ------------------------------------------------------------------------

PG_DAY = "(timezone(s.timezone, r.submitted_at))::date"
PG_AGGREGATE = f"""SELECT r.org_id, {PG_DAY} AS day, r.survey_id, r.channel, r.language,
        r.status, count(*) AS n, count(*) FILTER (WHERE r.score >= 9) AS promoters,
        count(*) FILTER (WHERE r.score BETWEEN 7 AND 8) AS passives,
        count(*) FILTER (WHERE r.score <= 6) AS detractors, sum(r.score) AS score_sum
    FROM {{rows}} r JOIN analytics_rollup_state s
      ON s.org_id = r.org_id AND s.timezone IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6"""
PG_ADD = f"""INSERT INTO response_daily AS d ({KEYS}, {", ".join(COUNT_COLUMNS)})
    SELECT * FROM ({PG_AGGREGATE}) a ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT ({KEYS}) DO UPDATE SET
    {", ".join(f"{c} = d.{c} + excluded.{c}" for c in COUNT_COLUMNS)};"""
PG_SUBTRACT = f"""UPDATE response_daily d SET
    {", ".join(f"{c} = d.{c} - a.{c}" for c in COUNT_COLUMNS)}
    FROM ({PG_AGGREGATE}) a
    WHERE {" AND ".join(f"d.{c} = a.{c}" for c in KEY_COLUMNS)};
  DELETE FROM response_daily d WHERE d.n <= 0
    AND d.org_id IN (SELECT DISTINCT x.org_id FROM {{rows}} x);"""
PG_BUMP = """UPDATE analytics_rollup_state SET data_version = data_version + 1
    WHERE org_id IN (SELECT DISTINCT x.org_id FROM {rows} x);"""
# Only rows whose counted columns changed (erasure and anonymisation touch none of them).
PG_CHANGED = "(SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE ({old}) IS " \
             "DISTINCT FROM ({new}))".format(old=", ".join(f"o.{c}" for c in RELEVANT),
                                              new=", ".join(f"n.{c}" for c in RELEVANT))
PG_CHANGED_NEW = PG_CHANGED.replace("SELECT o.*", "SELECT n.*")

PG_FUNCTIONS = {
    "npsloop_rollup_insert": PG_BUMP.format(rows="new_rows") + PG_ADD.format(rows="new_rows"),
    "npsloop_rollup_delete": PG_BUMP.format(rows="old_rows")
    + PG_SUBTRACT.format(rows="old_rows"),
    "npsloop_rollup_update": PG_BUMP.format(rows="new_rows") + PG_BUMP.format(rows="old_rows")
    + PG_SUBTRACT.format(rows=PG_CHANGED) + PG_ADD.format(rows=PG_CHANGED_NEW),
    "npsloop_data_version_new": PG_BUMP.format(rows="new_rows"),
    "npsloop_data_version_old": PG_BUMP.format(rows="old_rows"),
}
PG_TRIGGERS = [
    ("rollup_responses_insert", "INSERT", "responses", "NEW TABLE AS new_rows",
     "npsloop_rollup_insert"),
    ("rollup_responses_delete", "DELETE", "responses", "OLD TABLE AS old_rows",
     "npsloop_rollup_delete"),
    ("rollup_responses_update", "UPDATE", "responses",
     "OLD TABLE AS old_rows NEW TABLE AS new_rows", "npsloop_rollup_update"),
    ("rollup_answers_insert", "INSERT", "response_answers", "NEW TABLE AS new_rows",
     "npsloop_data_version_new"),
    ("rollup_answers_update", "UPDATE", "response_answers", "NEW TABLE AS new_rows",
     "npsloop_data_version_new"),
    ("rollup_answers_delete", "DELETE", "response_answers", "OLD TABLE AS old_rows",
     "npsloop_data_version_old"),
    ("rollup_surveys_update", "UPDATE", "surveys", "NEW TABLE AS new_rows",
     "npsloop_data_version_new"),
]
# A new organisation gets its state row, keyed by its time zone when PostgreSQL knows it.
PG_ORG_FUNCTION = """CREATE OR REPLACE FUNCTION npsloop_rollup_org() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE zone text := NEW.timezone;
BEGIN
  BEGIN
    PERFORM now() AT TIME ZONE zone;
  EXCEPTION WHEN others THEN
    zone := NULL;
  END;
  INSERT INTO analytics_rollup_state (org_id, timezone, data_version, built_at)
  VALUES (NEW.id, zone, 0, CASE WHEN zone IS NULL THEN NULL ELSE now() END)
  ON CONFLICT (org_id) DO NOTHING;
  RETURN NULL;
END $$;"""


def _pg_install(connection: Connection) -> None:
    for name, body in PG_FUNCTIONS.items():
        connection.execute(text(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n  {body}\n  RETURN NULL;\nEND $$;"))
    for trigger, event, table, transition, function in PG_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger} ON {table}"))
        connection.execute(text(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"))
    connection.execute(text(PG_ORG_FUNCTION))
    connection.execute(text("DROP TRIGGER IF EXISTS rollup_organizations_insert "
                            "ON organizations"))
    connection.execute(text(
        "CREATE TRIGGER rollup_organizations_insert AFTER INSERT ON organizations "
        "FOR EACH ROW EXECUTE FUNCTION npsloop_rollup_org()"))


def _pg_drop(connection: Connection) -> None:
    for trigger, _, table, _, _ in PG_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger} ON {table}"))
    connection.execute(text("DROP TRIGGER IF EXISTS rollup_organizations_insert "
                            "ON organizations"))
    for name in [*PG_FUNCTIONS, "npsloop_rollup_org"]:
        connection.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))


# --- SQLite ----------------------------------------------------------------------------


def _sqlite_day(row: str) -> str:
    return (f"(SELECT date({row}.submitted_at, printf('%+d minutes', s.utc_offset_minutes)) "
            f"FROM analytics_rollup_state s WHERE s.org_id = {row}.org_id "
            "AND s.utc_offset_minutes IS NOT NULL)")


def _sqlite_add(row: str) -> str:
    return f"""INSERT INTO response_daily ({KEYS}, {", ".join(COUNT_COLUMNS)})
    SELECT {row}.org_id, date({row}.submitted_at, printf('%+d minutes',
             s.utc_offset_minutes)), {row}.survey_id, {row}.channel, {row}.language,
           {row}.status, 1, {row}.score >= 9, {row}.score BETWEEN 7 AND 8, {row}.score <= 6,
           {row}.score
    FROM analytics_rollup_state s
    WHERE s.org_id = {row}.org_id AND s.utc_offset_minutes IS NOT NULL
    ON CONFLICT ({KEYS}) DO UPDATE SET
    {", ".join(f"{c} = {c} + excluded.{c}" for c in COUNT_COLUMNS)};"""


def _sqlite_subtract(row: str) -> str:
    key = (f"org_id = {row}.org_id AND day = {_sqlite_day(row)} AND survey_id = "
           f"{row}.survey_id AND channel = {row}.channel AND language = {row}.language "
           f"AND status = {row}.status")
    return f"""UPDATE response_daily SET n = n - 1,
        promoters = promoters - ({row}.score >= 9),
        passives = passives - ({row}.score BETWEEN 7 AND 8),
        detractors = detractors - ({row}.score <= 6), score_sum = score_sum - {row}.score
      WHERE {key};
    DELETE FROM response_daily WHERE {key} AND n <= 0;"""


def _sqlite_bump(row: str) -> str:
    return (f"UPDATE analytics_rollup_state SET data_version = data_version + 1 "
            f"WHERE org_id = {row}.org_id;")


_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in RELEVANT)
SQLITE_TRIGGERS = {
    "rollup_responses_insert": f"AFTER INSERT ON responses BEGIN {_sqlite_bump('NEW')} "
                               f"{_sqlite_add('NEW')} END",
    "rollup_responses_delete": f"AFTER DELETE ON responses BEGIN {_sqlite_bump('OLD')} "
                               f"{_sqlite_subtract('OLD')} END",
    "rollup_responses_update": f"AFTER UPDATE ON responses BEGIN {_sqlite_bump('NEW')} "
                               f"{_sqlite_bump('OLD')} END",
    "rollup_responses_move": f"AFTER UPDATE ON responses WHEN {_CHANGED} BEGIN "
                             f"{_sqlite_subtract('OLD')} {_sqlite_add('NEW')} END",
    "rollup_answers_insert": f"AFTER INSERT ON response_answers BEGIN {_sqlite_bump('NEW')} END",
    "rollup_answers_update": f"AFTER UPDATE ON response_answers BEGIN {_sqlite_bump('NEW')} END",
    "rollup_answers_delete": f"AFTER DELETE ON response_answers BEGIN {_sqlite_bump('OLD')} END",
    "rollup_surveys_update": f"AFTER UPDATE ON surveys BEGIN {_sqlite_bump('NEW')} END",
    # SQLite cannot resolve a time zone: the state row starts unbuilt, and
    # analytics.rollup.prepare_new_organization (an ORM hook) or a rebuild keys it.
    "rollup_organizations_insert": "AFTER INSERT ON organizations BEGIN "
        "INSERT OR IGNORE INTO analytics_rollup_state (org_id, data_version) "
        "VALUES (NEW.id, 0); END",
}


def install(connection: Connection) -> None:
    """Creates (or replaces) the triggers on this connection's database."""
    if connection.dialect.name == "postgresql":
        _pg_install(connection)
        return
    for name, body in SQLITE_TRIGGERS.items():
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        connection.execute(text(f"CREATE TRIGGER {name} {body}"))


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        _pg_drop(connection)
        return
    for name in SQLITE_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
