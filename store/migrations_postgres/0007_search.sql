-- Twin of migrations/0007_search.sql: trigram indexes (pg_trgm) under the merchant list's
-- search, which is ILIKE '%…%' on customer names and descriptions. ILIKE folds case by the
-- database's locale (C.UTF-8 or a language's: every script; plain "C": ASCII only).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX orders_customer_name_trgm ON orders USING gin (customer_name gin_trgm_ops);
CREATE INDEX orders_description_trgm ON orders USING gin (description gin_trgm_ops);
