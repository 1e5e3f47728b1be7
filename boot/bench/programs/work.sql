-- An in-memory SQL workload: bulk insert, an index, grouping, a self-join, sorting.
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO t SELECT i, (i * 7919) % 1000, printf('%08d', (i * 104729) % 99991) FROM c;
CREATE INDEX tk ON t(k);
SELECT count(*), sum(k), max(v) FROM t;
SELECT k, count(*), min(v) FROM t GROUP BY k ORDER BY count(*) DESC, k LIMIT 5;
SELECT count(*) FROM t a JOIN t b ON a.k = b.k AND a.id < b.id WHERE a.id % 50 = 0;
SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY v LIMIT 5);
SELECT sum(length(x)) FROM (SELECT group_concat(v) AS x FROM t GROUP BY id % 100);
