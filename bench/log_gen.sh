# log_gen.sh: the delivery log of bench/log.sh, written straight into the
# schema herald made (sourced by log.sh and console.sh). log_gen DB ROWS T0:
# DB (after herald init) gets 100,000 contacts, 50 campaigns c1..c50 with
# one run each, and ROWS attempts over them (every contact in every
# campaign, each campaign with every outcome, variants a and b), one every
# 8 ms from T0 (ms); the attempts' indexes are dropped during the load and
# made again from their own definitions, then ANALYZE.
log_gen() {
  local db=$1 rows=$2 t0=$3
  local indexes; indexes=$(sqlite3 "$db" "SELECT sql || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'attempts' AND sql IS NOT NULL")
  sqlite3 "$db" > /dev/null <<SQL
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = OFF;
  WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 100000)
  INSERT INTO contacts (id, ext_id, email, created_at, updated_at)
    SELECT x, 'k' || x, 'user' || x || '@example.com', 1795000000, 1795000000 FROM i;
  WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 50)
  INSERT INTO campaigns (id, name, segment, template, channels, category, schedule, status,
                         created_at, updated_at)
    SELECT x, 'c' || x, 'all', 'recall', 'email', 'marketing', 'now', 'done', 1795000000,
           1795000000 FROM i;
  INSERT INTO runs (id, campaign_id, fire_at, status, created_at, seq)
    SELECT id, id, $t0 / 1000, 'done', $t0 / 1000, 1 FROM campaigns;
  $(sqlite3 "$db" "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'attempts' AND sql IS NOT NULL")
  WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < $rows)
  INSERT INTO attempts (id, message_id, attempt, at, done_at, channel, provider, address, outcome,
                        reason, code, text, campaign_id, run_id, contact_id, variant, state)
    SELECT x, x, 1, $t0 + x * 8, $t0 + x * 8 + 40 + x % 50, 'email', 'box',
           'user' || ((x * 7919) % 100000 + 1) || '@example.com',
           CASE (x / 50) % 20 WHEN 0 THEN 'temporary' WHEN 1 THEN 'permanent' WHEN 2 THEN 'skipped'
                              ELSE 'accepted' END,
           CASE (x / 50) % 20 WHEN 0 THEN 'smtp_451' WHEN 1 THEN 'bad_address' WHEN 2 THEN 'capped'
                              END,
           CASE (x / 50) % 20 WHEN 0 THEN 451 WHEN 1 THEN 550 WHEN 2 THEN NULL ELSE 250 END,
           CASE (x / 50) % 20 WHEN 2 THEN 'cap marketing = 1/7d reached' ELSE 'queued as ' || x END,
           (x / 7) % 50 + 1, (x / 7) % 50 + 1, (x * 7919) % 100000 + 1,
           CASE x % 2 WHEN 0 THEN 'a' ELSE 'b' END,
           CASE (x / 50) % 20 WHEN 0 THEN 6 WHEN 1 THEN 5 WHEN 2 THEN 11 ELSE 2 END
    FROM i;
  $indexes
  ANALYZE;
SQL
}
