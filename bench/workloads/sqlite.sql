-- sqlite: a real-program workload for the allocator benchmarks.
-- Run as  sqlite3 -bail :memory: -cmd '.parameter set @n 150000' < sqlite.sql
-- (@n is the number of rows).  In-memory database; rows with a
-- pseudo-random key (deterministic), text and a randomblob payload of
-- deterministic length; an index; range queries, a GROUP BY, an ORDER BY,
-- updates and deletes.  Prints one line "checksum <hex>" computed from
-- deterministic values only (the blob contents are random, their lengths
-- are not).
PRAGMA cache_size = -65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, payload BLOB);
CREATE TABLE result(v INTEGER);
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < @n)
INSERT INTO t(id, k, name, payload)
  SELECT i, (i * 1103515245 + 12345) % 1000003,
         printf('row-%d-%x', i, (i * 2654435761) % 4294967296),
         randomblob(16 + (i * 7919) % 700)
  FROM seq;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name);
INSERT INTO result
  SELECT count(*) + total(length(payload)) FROM t WHERE k BETWEEN 1000 AND 600000;
INSERT INTO result
  SELECT sum(c * g) FROM (SELECT k % 97 AS g, count(*) AS c FROM t GROUP BY g);
INSERT INTO result
  SELECT sum(id) FROM (SELECT id FROM t ORDER BY name DESC LIMIT 5000);
UPDATE t SET payload = randomblob(length(payload) / 2 + 1), name = name || '-u' WHERE k % 3 = 0;
DELETE FROM t WHERE k % 5 = 1;
INSERT INTO result
  SELECT count(*) + total(length(payload)) + total(length(name)) FROM t;
INSERT INTO result
  SELECT count(*) FROM t AS a JOIN t AS b ON a.k = b.k + 1 WHERE a.id % 10 = 0;
SELECT printf('checksum %016x', sum(v * (rowid + 1))) FROM result;
