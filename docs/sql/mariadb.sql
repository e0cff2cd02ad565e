-- Read-only account for commerce-exporter on MariaDB (10.3+; primary or replica).
--
--     mariadb -u root < docs/sql/mariadb.sql
-- Replace `commerce_exporter` (the user), `commerce_platform` (the database), the host pattern
-- and the password. On a replica, run it on the primary so the grants replicate.
--
-- The exporter already sets `max_statement_time` and `SET SESSION TRANSACTION READ ONLY` on
-- every connection; this account also lacks any privilege to write, and the server caps its
-- statements and connections on its own.

CREATE USER 'commerce_exporter'@'%' IDENTIFIED BY 'change-me'
    WITH MAX_USER_CONNECTIONS 8   -- database.pool_size (default 3) + pre-ping reconnects + a client
         MAX_STATEMENT_TIME 30;   -- seconds; MariaDB only (MySQL: see mysql.sql)

GRANT SELECT ON commerce_platform.platforms TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.platform_modules TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.vendors TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.companies TO 'commerce_exporter'@'%';  -- the merchant of each vendor
GRANT SELECT ON commerce_platform.vendor_platforms TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.vendor_users TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.vendor_domains TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.customers TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.content_pages TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.media_files TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.marketplace_import_jobs TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.marketplace_products TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.products TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.inventory TO 'commerce_exporter'@'%';
GRANT SELECT ON commerce_platform.orders TO 'commerce_exporter'@'%';
-- Third-party providers that read other tables need their own GRANT SELECT lines here.
