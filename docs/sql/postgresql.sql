-- Read-only account for commerce-exporter on PostgreSQL (primary or hot-standby replica).
--
-- Run as a superuser or the owner of the platform's tables, connected to the platform database:
--     psql -d commerce_platform -f docs/sql/postgresql.sql
-- Replace `commerce_exporter` (the role), `commerce_platform` (the database) and the password.
-- On a streaming replica, run it on the primary: roles and grants replicate.
--
-- The exporter makes every session read-only itself (default_transaction_read_only, repeatable
-- read, statement_timeout at connection start-up); this account makes that true even for a
-- process that does not: it can read the fifteen tables the built-in providers query, nothing else.

CREATE ROLE commerce_exporter LOGIN PASSWORD 'change-me'
    CONNECTION LIMIT 8;  -- database.pool_size (default 3) + pre-ping reconnects + a psql session

-- Server-side limits that hold even if a client forgets them.
ALTER ROLE commerce_exporter SET default_transaction_read_only = on;
ALTER ROLE commerce_exporter SET statement_timeout = '30s';
ALTER ROLE commerce_exporter SET idle_in_transaction_session_timeout = '60s';

GRANT CONNECT ON DATABASE commerce_platform TO commerce_exporter;
GRANT USAGE ON SCHEMA public TO commerce_exporter;
GRANT SELECT ON
    platforms,
    platform_modules,
    vendors,
    companies,  -- the merchant of each vendor
    vendor_platforms,
    vendor_users,
    vendor_domains,
    customers,
    content_pages,
    media_files,
    marketplace_import_jobs,
    marketplace_products,
    products,
    inventory,
    orders
TO commerce_exporter;
-- Third-party providers that read other tables need their own GRANT SELECT lines here.
