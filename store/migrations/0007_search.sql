-- Full-text search of the merchant list: customer names and descriptions in an FTS5 index of
-- trigrams, so that a search finds any substring of three characters or more, folding case in
-- every script (SQLite's LIKE folds only ASCII, and reads every row). The index holds no copy of
-- the text (content='orders'); triggers keep it in step, and a rebuild indexes existing orders.
-- Needs SQLite built with FTS5: the build tag sqlite_fts5.
CREATE VIRTUAL TABLE orders_search USING fts5(customer_name, description,
    content='orders', content_rowid='id', tokenize='trigram');

CREATE TRIGGER orders_search_insert AFTER INSERT ON orders BEGIN
    INSERT INTO orders_search(rowid, customer_name, description)
        VALUES (new.id, new.customer_name, new.description);
END;
CREATE TRIGGER orders_search_delete AFTER DELETE ON orders BEGIN
    INSERT INTO orders_search(orders_search, rowid, customer_name, description)
        VALUES ('delete', old.id, old.customer_name, old.description);
END;
CREATE TRIGGER orders_search_update AFTER UPDATE OF customer_name, description ON orders BEGIN
    INSERT INTO orders_search(orders_search, rowid, customer_name, description)
        VALUES ('delete', old.id, old.customer_name, old.description);
    INSERT INTO orders_search(rowid, customer_name, description)
        VALUES (new.id, new.customer_name, new.description);
END;

INSERT INTO orders_search(orders_search) VALUES ('rebuild');
