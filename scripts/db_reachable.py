"""Exit 0 when the database in DATABASE_URL accepts connections (used by `make test`)."""

import os
import sys

import psycopg

url = os.environ.get("DATABASE_URL", "")
if not url.startswith("postgres"):
    sys.exit(1)
# Connect to the maintenance database: the test run creates its own test_<name> database.
base = url.rsplit("/", 1)[0] + "/postgres"
try:
    psycopg.connect(base, connect_timeout=3).close()
except psycopg.OperationalError:
    sys.exit(1)
