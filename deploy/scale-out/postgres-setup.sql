-- postgres-setup.sql: the shared index database (run once, as a PostgreSQL superuser:
--   psql -h db.example.org -U postgres -f postgres-setup.sql).
-- mamad creates and migrates its tables itself on the first node's start.
CREATE ROLE mamad LOGIN PASSWORD 'change-me';
CREATE DATABASE mamad OWNER mamad ENCODING 'UTF8';
-- Commits acknowledge C-STOREs: keep the server's default synchronous_commit = on (and
-- fsync = on). Each node opens one connection per busy thread: allow for
-- nodes x (rest.threads + dicom.max_associations + scoring.workers + 3) in max_connections.
