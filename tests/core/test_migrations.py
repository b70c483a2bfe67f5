"""Migrations from empty produce exactly the schema the models declare, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from npsloop.core.migrate import alembic_config
from npsloop.models import metadata


def test_migrated_schema_matches_models(backend):
    # The backend fixture built this database from empty with `upgrade heads`.
    with backend.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, metadata)
        current = set(context.get_current_heads())
    assert diff == [], f"models and migrations disagree: {diff}"
    heads = set(ScriptDirectory.from_config(alembic_config(backend.url)).get_heads())
    assert current == heads
