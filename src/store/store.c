/* store: opening, pragmas, migrations and transactions.
 *
 * Migrations are an ordered list; migration N takes a database from
 * user_version N-1 to N inside one transaction, so a database made by any
 * earlier herald opens and is brought forward, and a crash mid-migration
 * leaves it at the version it had. A database newer than this build is
 * refused rather than touched, and so is an empty file unless the caller
 * creates (herald init): a zero-byte file is what a truncated database looks
 * like, and SQLite would take it for a new one. A new file is made 0600.
 *
 * Two engines (issue 23): the store holds a db.h connection (conn) beside
 * SQLite's handle. On SQLite conn adopts that very handle, so a function
 * moved onto db.h and one still on sqlite3_ calls share one connection and
 * one transaction, and the move can go a function at a time; a db.h call
 * costs a function pointer more. On PostgreSQL only conn exists (db is
 * NULL): the store opens without migrating (herald init does that) and
 * refuses a schema of another version; every function not moved yet
 * reaches SQLite through hd_store_prepare, _cached or _exec, which answer
 * HD_E_USAGE "... is not available on PostgreSQL yet" (hd_store_sqlite_only)
 * instead of touching the missing handle. Moved code keeps its prepared
 * statements in dcache and dshapes (log.c's shapes), as the rest does in
 * cache. */
#include "store_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "herald/buf.h"
#include "herald/dbcopy.h"

/* Migrations are history: never edited. Migration 3's due index spells
 * queued, retry_wait and deferred as numbers (store_int.h pins HD_DUE's,
 * which migration 5 uses). */
_Static_assert(HD_ST_QUEUED == 0 && HD_ST_RETRY_WAIT == 6 && HD_ST_DEFERRED == 7,
               "migration 3's messages_due");

/* The consent table's two triggers that fill consent_log (migration 10),
 * made again by 17, 18 and 23, which build the table anew: one text, so
 * that they cannot drift apart. */
#define CONSENT_LOG_TRIGGERS                                                                       \
    "CREATE TRIGGER consent_log_insert AFTER INSERT ON consent BEGIN "                             \
    "  INSERT INTO consent_log (contact_id, channel, category, status, source, at, message_id, "   \
    "    campaign_id) VALUES (NEW.contact_id, NEW.channel, NEW.category, NEW.status, "             \
    "    NEW.source, NEW.updated_at, NEW.message_id, NEW.campaign_id);"                            \
    "END;"                                                                                         \
    "CREATE TRIGGER consent_log_update AFTER UPDATE ON consent BEGIN "                             \
    "  INSERT INTO consent_log (contact_id, channel, category, status, source, at, message_id, "   \
    "    campaign_id) VALUES (NEW.contact_id, NEW.channel, NEW.category, NEW.status, "             \
    "    NEW.source, NEW.updated_at, NEW.message_id, NEW.campaign_id);"                            \
    "END;"

/* Migrations 17, 18 and 23 build consent anew, its rows and its triggers
 * kept, each for another channel CHECK (RULE, the text inside it): one
 * text but for the rule. */
#define CONSENT_REBUILD(RULE)                                                                      \
    "CREATE TABLE consent_new ("                                                                   \
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"                     \
    "  channel TEXT NOT NULL CHECK (" RULE "),"                                                    \
    "  category TEXT NOT NULL CHECK (category IN ('marketing', 'transactional')),"                 \
    "  status TEXT NOT NULL CHECK (status IN ('opted_in', 'opted_out')),"                          \
    "  source TEXT NOT NULL,"                                                                      \
    "  updated_at INTEGER NOT NULL,"                                                               \
    "  message_id INTEGER,"                                                                        \
    "  campaign_id INTEGER,"                                                                       \
    "  PRIMARY KEY (contact_id, channel, category)"                                                \
    ") WITHOUT ROWID;"                                                                             \
    "INSERT INTO consent_new SELECT contact_id, channel, category, status, source, updated_at, "   \
    "  message_id, campaign_id FROM consent;"                                                      \
    "DROP TABLE consent;"                                                                          \
    "ALTER TABLE consent_new RENAME TO consent;" CONSENT_LOG_TRIGGERS

/* Migrations 13 and 24 build push_tokens anew for its platform CHECK
 * (RULE), its rows and its index kept. */
#define PUSH_TOKENS_REBUILD(RULE)                                                                  \
    "CREATE TABLE push_tokens_new ("                                                               \
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"                     \
    "  platform TEXT NOT NULL CHECK (" RULE "),"                                                   \
    "  token TEXT NOT NULL,"                                                                       \
    "  updated_at INTEGER NOT NULL,"                                                               \
    "  PRIMARY KEY (contact_id, platform)"                                                         \
    ") WITHOUT ROWID;"                                                                             \
    "INSERT INTO push_tokens_new SELECT contact_id, platform, token, updated_at FROM push_tokens;" \
    "DROP TABLE push_tokens;"                                                                      \
    "ALTER TABLE push_tokens_new RENAME TO push_tokens;"                                           \
    "CREATE INDEX push_tokens_token ON push_tokens(token);"

/* The suppressions table 18 and 24 build anew, with its channel CHECK
 * (RULE); each fills it its own way. */
#define SUPPRESSIONS_NEW(RULE)                                                                     \
    "CREATE TABLE suppressions_new ("                                                              \
    "  address TEXT PRIMARY KEY,"                                                                  \
    "  channel TEXT NOT NULL CHECK (" RULE "),"                                                    \
    "  reason TEXT NOT NULL,"                                                                      \
    "  created_at INTEGER NOT NULL,"                                                               \
    "  detail TEXT,"                                                                               \
    "  message_id INTEGER"                                                                         \
    ") WITHOUT ROWID;"

/* The migrations are SQL text, some of it made by the macros above, laid
 * out as SQL reads: clang-format would wrap the text around the macros. */
/* clang-format off */
static const char *const migrations[] = {
    /* 1: contacts, push tokens, consent, suppressions, attribute types */
    "CREATE TABLE contacts ("
    "  id INTEGER PRIMARY KEY,"
    "  ext_id TEXT NOT NULL UNIQUE,"
    "  email TEXT,"
    "  phone TEXT,"
    "  locale TEXT,"
    "  timezone TEXT,"
    "  attrs TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE push_tokens ("
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"
    "  platform TEXT NOT NULL CHECK (platform IN ('fcm', 'apns')),"
    "  token TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (contact_id, platform)"
    ") WITHOUT ROWID;"
    "CREATE INDEX push_tokens_token ON push_tokens(token);"
    "CREATE TABLE consent ("
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"
    "  channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push')),"
    "  category TEXT NOT NULL CHECK (category IN ('marketing', 'transactional')),"
    "  status TEXT NOT NULL CHECK (status IN ('opted_in', 'opted_out')),"
    "  source TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (contact_id, channel, category)"
    ") WITHOUT ROWID;"
    "CREATE TABLE suppressions ("
    "  address TEXT PRIMARY KEY,"
    "  channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push')),"
    "  reason TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE attributes ("
    "  name TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL CHECK (type IN ('number', 'boolean', 'date', 'string', 'object',"
    "                                     'array'))"
    ") WITHOUT ROWID;",
    /* 2: segments, stored as the rule text (compiled to SQL when used) */
    "CREATE TABLE segments ("
    "  name TEXT PRIMARY KEY,"
    "  expr TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    /* 3: campaigns, their runs, the message queue and the delivery log. The
     * hot tables (messages, attempts, sends) are indexed on keys that grow:
     * ids, (run, contact) filled in contact order, (contact, time); an
     * index on a random key (a UUID) made inserts about 14 times slower, so
     * message UUIDs are derived from the id and the instance, not stored.
     * Messages in flight (state 1) have no index of their own: only
     * recovery at start-up looks for them, and two index updates per
     * message cost more than one scan per start.
     * States are the numbers of enum hd_state: 0 queued, 1 sending,
     * 6 retry_wait, 7 deferred. */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta VALUES ('instance', lower(hex(randomblob(16))));"
    "CREATE TABLE campaigns ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  segment TEXT NOT NULL,"
    "  template TEXT NOT NULL,"
    "  channels TEXT NOT NULL,"
    "  category TEXT NOT NULL CHECK (category IN ('marketing', 'transactional')),"
    "  schedule TEXT NOT NULL CHECK (schedule IN ('now', 'at', 'local', 'every')),"
    "  at INTEGER,"
    "  local_minute INTEGER,"
    "  cron TEXT,"
    "  tz TEXT,"
    "  holdout INTEGER NOT NULL DEFAULT 0,"
    "  variants TEXT,"
    "  expires INTEGER NOT NULL DEFAULT 0,"
    "  resend_after INTEGER NOT NULL DEFAULT 0,"
    "  fallback INTEGER NOT NULL DEFAULT 0,"
    "  rate TEXT,"
    "  status TEXT NOT NULL,"
    "  next_run INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),"
    "  fire_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('materializing', 'active', 'done')),"
    "  queued INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  done_at INTEGER,"
    "  UNIQUE (campaign_id, fire_at)"
    ");"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  contact_id INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  variant TEXT,"
    "  channel INTEGER,"
    "  ch_index INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  not_before INTEGER NOT NULL,"
    "  expires_at INTEGER,"
    "  lease_owner INTEGER,"
    "  lease_until INTEGER,"
    "  reason TEXT,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE UNIQUE INDEX messages_run_contact ON messages(run_id, contact_id);"
    "CREATE INDEX messages_due ON messages(run_id, not_before, id) WHERE state IN (0, 6, 7);"
    "CREATE TABLE attempts ("
    "  id INTEGER PRIMARY KEY,"
    "  message_id INTEGER NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  done_at INTEGER,"
    "  channel TEXT,"
    "  provider TEXT,"
    "  address TEXT,"
    "  outcome TEXT NOT NULL,"
    "  code INTEGER,"
    "  text TEXT,"
    "  gateway_id TEXT,"
    "  digest TEXT"
    ");"
    "CREATE INDEX attempts_message ON attempts(message_id);"
    "CREATE TABLE sends ("
    "  message_id INTEGER PRIMARY KEY,"
    "  contact_id INTEGER NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  campaign_id INTEGER NOT NULL,"
    "  category INTEGER NOT NULL,"
    "  channel INTEGER NOT NULL"
    ");"
    "CREATE INDEX sends_contact ON sends(contact_id, at);"
    "CREATE TABLE provider_pauses ("
    "  provider TEXT PRIMARY KEY,"
    "  until_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    /* 4: the audit. Each log row carries its campaign, run, contact and
     * variant (so filters use an index, not a join), the state the message
     * went to, a short reason word and, for decisions, a JSON detail
     * (channels skipped and why, earlier messages that filled a cap).
     * Outcomes become the five of `herald log --outcome`: decisions are
     * 'skipped' with the old word as their reason. Pruned rows leave their
     * counts in log_totals and log_latency. Contacts deleted before this
     * version get the pseudonymous (negative) id a delete now gives. */
    "ALTER TABLE attempts ADD COLUMN campaign_id INTEGER;"
    "ALTER TABLE attempts ADD COLUMN run_id INTEGER;"
    "ALTER TABLE attempts ADD COLUMN contact_id INTEGER;"
    "ALTER TABLE attempts ADD COLUMN variant TEXT;"
    "ALTER TABLE attempts ADD COLUMN state INTEGER;"
    "ALTER TABLE attempts ADD COLUMN reason TEXT;"
    "ALTER TABLE attempts ADD COLUMN segments INTEGER;"
    "ALTER TABLE attempts ADD COLUMN cost REAL;"
    "ALTER TABLE attempts ADD COLUMN detail TEXT;"
    "UPDATE attempts SET (campaign_id, run_id, contact_id, variant, state) = (SELECT "
    "  r.campaign_id, m.run_id, m.contact_id, m.variant, m.state FROM messages m JOIN runs r ON "
    "  r.id = m.run_id WHERE m.id = attempts.message_id);"
    "UPDATE attempts SET reason = outcome, outcome = 'skipped' WHERE outcome NOT IN "
    "  ('accepted', 'temporary', 'permanent', 'throttled', 'requeued');"
    "UPDATE attempts SET reason = 'interrupted', outcome = 'temporary' WHERE outcome = "
    "  'requeued';"
    "UPDATE messages SET contact_id = -contact_id WHERE contact_id > 0 AND contact_id NOT IN "
    "  (SELECT id FROM contacts);"
    "UPDATE attempts SET contact_id = -contact_id, address = NULL WHERE contact_id > 0 AND "
    "  contact_id NOT IN (SELECT id FROM contacts);"
    "DELETE FROM sends WHERE contact_id NOT IN (SELECT id FROM contacts);"
    "INSERT INTO meta VALUES ('next_pseudonym', (SELECT min(-1, coalesce(min(contact_id), 0) - 1) "
    "  FROM messages));"
    "DROP INDEX attempts_message;"
    "CREATE INDEX attempts_campaign ON attempts(campaign_id, at);"
    "CREATE INDEX attempts_contact ON attempts(contact_id, at);"
    "CREATE INDEX attempts_at ON attempts(at);"
    "CREATE TABLE log_totals ("
    "  campaign_id INTEGER NOT NULL,"
    "  variant TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  provider TEXT NOT NULL,"
    "  day TEXT NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  segments INTEGER NOT NULL,"
    "  cost REAL NOT NULL,"
    "  PRIMARY KEY (campaign_id, variant, channel, provider, day, outcome, reason, state)"
    ") WITHOUT ROWID;"
    "CREATE TABLE log_latency ("
    "  campaign_id INTEGER NOT NULL,"
    "  variant TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  provider TEXT NOT NULL,"
    "  day TEXT NOT NULL,"
    "  bucket INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (campaign_id, variant, channel, provider, day, bucket)"
    ") WITHOUT ROWID;"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  contact_id INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  value REAL"
    ");"
    "CREATE UNIQUE INDEX events_key ON events(name, contact_id, at, ifnull(value, 'none'));"
    "CREATE INDEX events_contact ON events(contact_id);",
    /* 5: the due index's condition in comparisons (see HD_DUE); the same
     * rows, so only the index is built again */
    "DROP INDEX messages_due;"
    "CREATE INDEX messages_due ON messages(run_id, not_before, id) WHERE " HD_DUE("state") ";",
    /* 6: why a campaign is paused, in its row (the scheduler's notes were
     * meta rows "paused:ID"; the dispatcher's circuit breaker writes one
     * too), and each run's number within its campaign (seq: 1, 2, ... in
     * order of id), the number every command shows and accepts */
    "ALTER TABLE campaigns ADD COLUMN pause_reason TEXT;"
    "UPDATE campaigns SET pause_reason = (SELECT value FROM meta WHERE key = 'paused:' || "
    "  campaigns.id);"
    "DELETE FROM meta WHERE key LIKE 'paused:%';"
    "ALTER TABLE runs ADD COLUMN seq INTEGER;"
    "UPDATE runs SET seq = (SELECT count(*) FROM runs o WHERE o.campaign_id = runs.campaign_id "
    "  AND o.id <= runs.id);"
    "CREATE UNIQUE INDEX runs_seq ON runs(campaign_id, seq);",
    /* 7: a consent change made from a message's link records the
     * message and its campaign (provable consent); NULL for others */
    "ALTER TABLE consent ADD COLUMN message_id INTEGER;"
    "ALTER TABLE consent ADD COLUMN campaign_id INTEGER;",
    /* 8: events by behaviour: each event carries a JSON object of
     * properties (sum("purchase", "amount") reads them), and one index
     * serves a contact's events of one name in time order, which is what
     * did(), count(), sum() and last() look up per contact; it also serves
     * every lookup by contact alone, so that index goes */
    "ALTER TABLE events ADD COLUMN props TEXT;"
    "CREATE INDEX events_contact_name_at ON events(contact_id, name, at);"
    "DROP INDEX IF EXISTS events_contact;",
    /* push tokens for JPush (its registration id) and Huawei Push Kit: the
     * platform's CHECK is part of the table, so the table is built again
     * (nothing references it; its index goes with it and comes back) */
    "CREATE TABLE push_tokens_new ("
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"
    "  platform TEXT NOT NULL CHECK (platform IN ('fcm', 'apns', 'jpush', 'hms')),"
    "  token TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (contact_id, platform)"
    ") WITHOUT ROWID;"
    "INSERT INTO push_tokens_new SELECT contact_id, platform, token, updated_at FROM push_tokens;"
    "DROP TABLE push_tokens;"
    "ALTER TABLE push_tokens_new RENAME TO push_tokens;"
    "CREATE INDEX push_tokens_token ON push_tokens(token);",
    /* 10 (preference centre): every consent change, appended, never
     * updated: consent keeps the state now, one row per channel and
     * category, and its triggers append here whatever writes it (import,
     * cli, a link), so history can show each change with its source, its
     * message and campaign and its time (provable consent). The rows there
     * are now start it. Erasing a contact erases its record too. */
    "CREATE TABLE consent_log ("
    "  id INTEGER PRIMARY KEY,"
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"
    "  channel TEXT NOT NULL,"
    "  category TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  message_id INTEGER,"
    "  campaign_id INTEGER"
    ");"
    "CREATE INDEX consent_log_contact ON consent_log(contact_id, id);"
    "INSERT INTO consent_log (contact_id, channel, category, status, source, at, message_id, "
    "  campaign_id) SELECT contact_id, channel, category, status, source, updated_at, "
    "  message_id, campaign_id FROM consent ORDER BY updated_at;" CONSENT_LOG_TRIGGERS,
    /* 11: receipts (issue 19). One row per gateway report, keyed by the
     * provider, the gateway's id of the message and the status, so a
     * report the gateway sends again is the same row. message_id is the
     * message the report names (the callback URL's m=N); applied_at stays
     * NULL while that message is not known yet (pending). No index on the
     * log's gateway ids: they are random keys, and an index on those slows
     * every insert (see 3). A suppression says why and which message
     * caused it. */
    "CREATE TABLE receipts ("
    "  id INTEGER PRIMARY KEY,"
    "  provider TEXT NOT NULL,"
    "  gateway_id TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  code TEXT,"
    "  reason TEXT,"
    "  gateway_at INTEGER,"
    "  received_at INTEGER NOT NULL,"
    "  message_id INTEGER,"
    "  applied_at INTEGER,"
    "  UNIQUE (provider, gateway_id, status)"
    ");"
    "CREATE INDEX receipts_pending ON receipts(received_at) WHERE applied_at IS NULL;"
    "ALTER TABLE suppressions ADD COLUMN detail TEXT;"
    "ALTER TABLE suppressions ADD COLUMN message_id INTEGER;",
    /* 12 (issue 22, events at scale): one index where there were two. The
     * unique key now leads with the contact, (contact_id, name, at,
     * value), so it also serves what events_contact_name_at served (a
     * contact's events of one name in time order, a prefix of it), and an
     * import maintains one index instead of two */
    "DROP INDEX IF EXISTS events_key;"
    "DROP INDEX IF EXISTS events_contact_name_at;"
    "CREATE UNIQUE INDEX events_key ON events(contact_id, name, at, ifnull(value, 'none'));",
    /* 13 (issue 24, WeChat openids, the contact field wechat_openid): the
     * platform's CHECK is part of the table, so the table is built again
     * (nothing references it; its index goes with it and comes back) */
    PUSH_TOKENS_REBUILD("platform IN ('fcm', 'apns', 'jpush', 'hms', 'wechat')"),
    /* 14 (issue 20, the JSON API): keys, kept as the SHA-256 of the key
     * and found by its public prefix (the key's first characters, not
     * secret), so the hash is compared in constant time; revoked keys stay,
     * for the record. A transactional message is a message of a hidden
     * campaign (api = 1) per template, category and channel order, in one
     * of its runs; its own data for the template, and the key that sent
     * it, are in api_messages. An Idempotency-Key's first answer is kept
     * per API key with the SHA-256 of the body it answered, for a day. */
    "CREATE TABLE api_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  prefix TEXT NOT NULL UNIQUE,"
    "  hash BLOB NOT NULL,"
    "  scopes TEXT NOT NULL,"
    "  rate TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER"
    ");"
    "CREATE TABLE api_messages ("
    "  message_id INTEGER PRIMARY KEY,"
    "  key_id INTEGER NOT NULL,"
    "  data TEXT,"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE api_idempotency ("
    "  key_id INTEGER NOT NULL,"
    "  idem TEXT NOT NULL,"
    "  body_hash BLOB NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  answer TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (key_id, idem)"
    ") WITHOUT ROWID;"
    "CREATE INDEX api_idempotency_at ON api_idempotency(created_at);"
    "ALTER TABLE campaigns ADD COLUMN api INTEGER NOT NULL DEFAULT 0;",
    /* 15 (issue 20, signed outbound webhooks): one cursor per [webhook
     * NAME] over the two append-only tables its events come from, the
     * delivery log (attempts: sent, receipts, failures) and consent_log
     * (opt-outs): the last row of each acknowledged (or passed over, not
     * being one of the webhook's events), when the batch at the head may
     * be tried again and how often it failed. Nothing is written when a
     * message is sent: a batch is acknowledged by moving the cursor in one
     * transaction. The lease keeps two deliverers off one webhook. Row ids
     * are max + 1, so deleting the newest rows frees their ids: when a
     * contact's erasure deletes consent_log's newest rows, the cursors
     * come back to the newest row left, or the next opt-outs, taking those
     * ids, would be behind them (log pruning does the same for the log).
     * IF NOT EXISTS: tests that take a database back to an older version
     * run the later migrations again. */
    "CREATE TABLE IF NOT EXISTS webhooks ("
    "  name TEXT PRIMARY KEY,"
    "  log_id INTEGER NOT NULL,"
    "  consent_id INTEGER NOT NULL,"
    "  next_ms INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  last_ok_ms INTEGER,"
    "  delivered INTEGER NOT NULL DEFAULT 0,"
    "  expired INTEGER NOT NULL DEFAULT 0,"
    "  lease_owner INTEGER,"
    "  lease_until_ms INTEGER,"
    "  created_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS webhooks_consent_reuse AFTER DELETE ON consent_log WHEN OLD.id > "
    "(SELECT "
    "  coalesce(max(id), 0) FROM consent_log) BEGIN "
    "  UPDATE webhooks SET consent_id = min(consent_id, (SELECT coalesce(max(id), 0) FROM "
    "    consent_log));"
    "END;",
    /* 16 (issue 19): a gateway's own id of each message it accepted, for
     * the providers whose reports may name that id alone (an http
     * gateway with receipt keys, a mail sender: its SMTP reply's id and
     * the Message-ID's UUID). A table of its own,
     * written only for those, rather than an index on the log's gateway
     * ids, which would slow every insert (see 11). at (ms, the send's
     * time) lets the log's pruning take them with their log rows. */
    "CREATE TABLE gateway_ids ("
    "  provider TEXT NOT NULL,"
    "  gateway_id TEXT NOT NULL,"
    "  message_id INTEGER NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  PRIMARY KEY (provider, gateway_id)"
    ") WITHOUT ROWID;"
    /* a mail sender's event names the sender's id of the message apart
     * from the event's own id (the receipt's key): kept, so that a pending
     * one still finds its message later */
    "ALTER TABLE receipts ADD COLUMN provider_id TEXT;",
    /* 17 (issue 20, the in-app inbox): a message sent to the inbox channel
     * stays here for its contact, listed newest first through the index
     * (id grows with time) until it expires or is archived; message_id is
     * the queued message, provider the inbox provider that took it (a read
     * is that provider's receipt, opened). Consent's channel CHECK is part
     * of its table, so the table is built again with inbox allowed, and
     * the triggers that fill consent_log come back with it (consent_log
     * itself has no CHECK). */
    "CREATE TABLE inbox ("
    "  id INTEGER PRIMARY KEY,"
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"
    "  message_id INTEGER NOT NULL UNIQUE,"
    "  provider TEXT NOT NULL,"
    "  title TEXT,"
    "  body_html TEXT,"
    "  url TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER,"
    "  read_at INTEGER,"
    "  archived_at INTEGER"
    ");"
    "CREATE INDEX inbox_contact ON inbox(contact_id, id);"
    CONSENT_REBUILD("channel IN ('email', 'sms', 'push', 'inbox')"),
    /* 18 (issue 24, WeChat as a channel of its own): consent and
     * suppressions name the channel wechat. Both CHECKs are part of their
     * tables, so both are built again as 17 built consent (its triggers
     * come back with it; consent_log has no CHECK); the openids push
     * suppressed before (the wechat provider was push's) become the
     * wechat channel's. Rerunnable: a test that takes a database back to
     * an older version runs it again over the same tables. */
    CONSENT_REBUILD("channel IN ('email', 'sms', 'push', 'inbox', 'wechat')")
    SUPPRESSIONS_NEW("channel IN ('email', 'sms', 'push', 'wechat')")
    "INSERT INTO suppressions_new SELECT address, CASE WHEN channel = 'push' AND address IN "
    "  (SELECT token FROM push_tokens WHERE platform = 'wechat') THEN 'wechat' ELSE channel END, "
    "  reason, created_at, detail, message_id FROM suppressions;"
    "DROP TABLE suppressions;"
    "ALTER TABLE suppressions_new RENAME TO suppressions;",
    /* 19 (issue 21, the console): its users, with the Argon2id hash in
     * its encoded form ($argon2id$v=19$m=...,t=...,p=...$salt$hash, which
     * carries its own parameters); its sessions, kept as the SHA-256 of
     * the cookie's random id (a copy of the database opens none), each
     * with the secret its forms' CSRF tokens are made of; and the actions
     * people took (who, what, when, from where), which `herald audit
     * actions` lists and the login's throttle counts (failed logins per
     * account and per address, by time) */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE console_sessions ("
    "  id BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  csrf TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX console_sessions_user ON console_sessions(user_id);"
    "CREATE TABLE audit_actions ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  who TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  detail TEXT,"
    "  addr TEXT"
    ");"
    "CREATE INDEX audit_actions_at ON audit_actions(at);"
    "CREATE INDEX audit_actions_who ON audit_actions(action, who, at);"
    "CREATE INDEX audit_actions_addr ON audit_actions(action, addr, at);",
    /* 20 (issue 19, status callbacks at speed): a report is unique by its
     * message first, (message_id, status, provider, gateway_id), while its
     * message is known, and by (provider, gateway_id, status) only while it
     * is not. The gateway's ids are random: one index led by them put each
     * new report on a page of its own, about 1.4 pages of WAL a report,
     * where reports arrive in about the order their messages were sent.
     * A report kept before its message was known and one kept after are
     * two rows until the first is applied: hd_store_receipt_done then
     * drops it as the duplicate it is. Rebuilt, so rerunnable. */
    "CREATE TABLE receipts_new ("
    "  id INTEGER PRIMARY KEY,"
    "  provider TEXT NOT NULL,"
    "  gateway_id TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  code TEXT,"
    "  reason TEXT,"
    "  gateway_at INTEGER,"
    "  received_at INTEGER NOT NULL,"
    "  message_id INTEGER,"
    "  applied_at INTEGER,"
    "  provider_id TEXT"
    ");"
    "INSERT INTO receipts_new SELECT id, provider, gateway_id, status, code, reason, gateway_at, "
    "  received_at, message_id, applied_at, provider_id FROM receipts;"
    "DROP TABLE receipts;"
    "ALTER TABLE receipts_new RENAME TO receipts;"
    "CREATE UNIQUE INDEX receipts_message ON receipts(message_id, status, provider, gateway_id) "
    "  WHERE message_id IS NOT NULL;"
    "CREATE UNIQUE INDEX receipts_unknown ON receipts(provider, gateway_id, status) "
    "  WHERE message_id IS NULL;"
    "CREATE INDEX receipts_pending ON receipts(received_at) WHERE applied_at IS NULL;",
    /* 21 (issue 21, the console): a user's own language (en, zh-CN) and
     * IANA time zone for the console's pages, NULL until set (the
     * browser's Accept-Language and [herald] timezone then) */
    "ALTER TABLE users ADD COLUMN lang TEXT;"
    "ALTER TABLE users ADD COLUMN zone TEXT;",
    /* 22 (issue 23): nothing on SQLite; PostgreSQL's 22 adds
     * herald_json_patch, SQLite's json_patch there */
    "",
    /* 23 (issue 18, one-click at speed): consent's channel CHECK as five
     * comparisons, the same rule as 18's IN list. SQLite (3.40) codes an
     * IN list of more than two constants as a temporary b-tree built anew
     * for every run of a statement: every one-click's upsert opened one
     * and inserted the five names (about 30,000 of the 135,000
     * instructions a click took in the server, callgrind). Built again as
     * 18 built it, its rows and triggers (CONSENT_LOG_TRIGGERS) as they
     * were, so rerunnable. */
    CONSENT_REBUILD("channel = 'email' OR channel = 'sms' OR channel = 'push' "
                    "    OR channel = 'inbox' OR channel = 'wechat'"),
    /* 24 (issue 25, import at speed): push_tokens' platform CHECK and
     * suppressions' channel CHECK as comparisons, as 23 wrote consent's:
     * the same rules as 13's and 18's IN lists, which SQLite codes as a
     * temporary b-tree built anew for every run of the insert (every
     * imported push token, every suppression). Built again as 13 and 18
     * built them, with their rows and push_tokens' index, so rerunnable;
     * nothing references either table. */
    PUSH_TOKENS_REBUILD("platform = 'fcm' OR platform = 'apns' OR "
                        "    platform = 'jpush' OR platform = 'hms' OR platform = 'wechat'")
    SUPPRESSIONS_NEW("channel = 'email' OR channel = 'sms' OR channel = 'push' "
                     "    OR channel = 'wechat'")
    "INSERT INTO suppressions_new SELECT address, channel, reason, created_at, detail, "
    "  message_id FROM suppressions;"
    "DROP TABLE suppressions;"
    "ALTER TABLE suppressions_new RENAME TO suppressions;",
    /* 25 (issue 23, several nodes): the dispatcher nodes that share the
     * store, each registered at start (host, process id, herald's
     * version), beating while it runs and marked stopped on a clean exit,
     * for `herald nodes`; and a message's fencing token, the claim
     * generation it was leased under. SQLite keeps one machine's
     * semantics (the owner is a process id, alive by kill(pid, 0)); the
     * token is drawn and checked on PostgreSQL only. */
    "CREATE TABLE nodes ("
    "  id INTEGER PRIMARY KEY,"
    "  host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  version TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  heartbeat_at INTEGER NOT NULL,"
    "  stopped_at INTEGER"
    ");"
    "ALTER TABLE messages ADD COLUMN lease_token INTEGER;",
    /* 26 (issue 23, rates across nodes): each provider's token bucket
     * shared by the nodes (tokens left, the time they were counted, the
     * last grant); read and written on PostgreSQL only, where several
     * machines send, but on both lists so that the numbers match. */
    "CREATE TABLE provider_rates ("
    "  provider TEXT PRIMARY KEY,"
    "  tokens REAL NOT NULL,"
    "  at_ms INTEGER NOT NULL,"
    "  granted INTEGER NOT NULL DEFAULT 0"
    ");",
    /* 27 (issue 23, webhooks across nodes): on PostgreSQL each log and
     * consent_log row's writing transaction, for the webhooks' cursors;
     * SQLite's one writer commits in id order and needs nothing. */
    "SELECT 1",
    /* 28: PostgreSQL's herald_json_patch in linear time; SQLite's json_patch
     * is its own */
    "SELECT 1",
    /* 29: when a contact came into herald, apart from its imported
     * created_at (the day they signed up elsewhere, years before): `why`
     * says a contact added after a run was not in it for that reason.
     * Rows from before have only created_at to go by. */
    "ALTER TABLE contacts ADD COLUMN added_at INTEGER;"
    "UPDATE contacts SET added_at = created_at;",
    /* 30 (issue 19, Mailgun's tokens across restarts and nodes): each
     * one-time token a sender's signed webhook carried, taken once per
     * database by every `herald serve` on it (the service kept them in
     * memory: a restart, or another node, took the same signature block
     * again), as a hash (the caller's: hex SHA-256 of the sender's name and
     * the token), with the time in seconds past which no node accepts it
     * (hd_store_hook_token_take prunes the rows past it) */
    "CREATE TABLE hook_tokens ("
    "  hash TEXT PRIMARY KEY,"
    "  expires_at INTEGER NOT NULL"
    ") WITHOUT ROWID;",
};
/* clang-format on */

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int hd_store_schema_version(void)
{
    return NMIGRATIONS;
}

int hd_store_fail(struct hd_store *st, struct hd_err *err, const char *what)
{
    return hd_err_set(err, HD_E_STORE, "%s: %s", what, sqlite3_errmsg(st->db));
}

int hd_store_sqlite_only(struct hd_store *st, const char *what, struct hd_err *err)
{
    if (st->db)
        return 0;
    return hd_err_set(err, HD_E_USAGE,
                      "the store's %s is not available on PostgreSQL yet (issue 23): use a "
                      "SQLite database for this command for now",
                      what);
}

bool hd_store_is_pg(const struct hd_store *st)
{
    return st->db == NULL;
}

bool hd_store_lost(struct hd_store *st)
{
    return st && st->conn && hd_db_lost(st->conn);
}

int hd_store_dfail(struct hd_err *err, int rc, const char *what)
{
    if (err && err->code)
        return hd_err_prefix(err, "%s", what);
    return hd_err_set(err, rc < 0 ? rc : HD_E_STORE, "%s: the database failed", what);
}

int hd_store_prepare_at(struct hd_store *st, const char *func, const char *sql, sqlite3_stmt **out,
                        struct hd_err *err)
{
    int rc = hd_store_sqlite_only(st, func, err);
    if (rc < 0 || (rc = hd_db_deferred(st->conn, true, err)) < 0)
        return rc;
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK)
        return hd_store_fail(st, err, "database");
    return 0;
}

int hd_store_exec_at(struct hd_store *st, const char *func, const char *sql, struct hd_err *err)
{
    char *msg = NULL;
    int rc = hd_store_sqlite_only(st, func, err);
    if (rc < 0 || (rc = hd_db_deferred(st->conn, true, err)) < 0)
        return rc;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        hd_err_set(err, HD_E_STORE, "database: %s", msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return HD_E_STORE;
    }
    return 0;
}

int hd_store_bind_text(sqlite3_stmt *stmt, int idx, const char *s)
{
    return s ? sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC) : sqlite3_bind_null(stmt, idx);
}

/* Whether sql can run before the delivery log's waiting rows are
 * written: a statement that reads or writes rows (not one that ends a
 * transaction) and never names attempts, in any case. A column named
 * attempts (messages') counts too: it costs a flush, nothing more. */
static bool log_quiet(const char *sql)
{
    static const char *const verbs[] = {"SELECT", "INSERT", "UPDATE", "DELETE"};
    const char *p = sql + strspn(sql, " \t\n");
    bool dml = false;
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        dml = dml || (strncasecmp(p, verbs[i], 6) == 0 && !isalnum((unsigned char)p[6]));
    for (; dml && *p; p++)
        if (strncasecmp(p, "attempts", 8) == 0)
            return false;
    return dml;
}

int hd_store_cached_at(struct hd_store *st, const char *func, int slot, const char *sql,
                       sqlite3_stmt **out, struct hd_err *err)
{
    int rc;
    bool fresh = !st->cache[slot]; /* sql is read only then */
    /* the delivery log's waiting rows go first (log_lite.c), unless the
     * statement cannot see them: a status callback's writes then leave
     * its log row waiting for the batch's others */
    if ((!st->cache_quiet[slot] && (rc = hd_db_deferred(st->conn, true, err)) < 0) ||
        (fresh && (rc = hd_store_prepare_at(st, func, sql, &st->cache[slot], err)) < 0))
        return rc;
    if (fresh)
        st->cache_quiet[slot] = log_quiet(sql);
    sqlite3_reset(st->cache[slot]);
    sqlite3_clear_bindings(st->cache[slot]);
    *out = st->cache[slot];
    return 0;
}

char *hd_store_col_dup(sqlite3_stmt *stmt, int i)
{
    const unsigned char *t = sqlite3_column_text(stmt, i);
    return t ? hd_xstrdup((const char *)t) : NULL;
}

int hd_store_changes(struct hd_store *st)
{
    return st->db ? sqlite3_changes(st->db) : st->dchanges;
}

int hd_store_dcached(struct hd_store *st, int slot, const char *sql, const char *pg_sql,
                     struct hd_db_stmt **out, struct hd_err *err)
{
    int rc;
    if (!st->dcache[slot] && (rc = hd_db_prepare(st->conn, pg_sql && !st->db ? pg_sql : sql,
                                                 &st->dcache[slot], err)) < 0)
        return rc;
    hd_db_reset(st->dcache[slot]);
    *out = st->dcache[slot];
    return 0;
}

void hd_store_arr_add(struct hd_buf *b, const char *item)
{
    hd_buf_addc(b, b->len ? ',' : '{');
    hd_buf_adds(b, item);
}

void hd_store_arr_text(struct hd_buf *b, const char *v)
{
    if (!v) {
        hd_store_arr_add(b, "NULL");
        return;
    }
    hd_store_arr_add(b, "\"");
    /* the runs between the two characters that need a backslash, whole:
     * a byte at a time, the delivery log's texts cost 620 instructions a
     * field on PostgreSQL (10 fields a message) */
    for (size_t n; *v; v += n) {
        n = strcspn(v, "\"\\");
        hd_buf_add(b, v, n);
        if (v[n]) {
            hd_buf_addc(b, '\\');
            hd_buf_addc(b, v[n++]);
        }
    }
    hd_buf_addc(b, '"');
}

void hd_store_arr_int(struct hd_buf *b, int64_t v)
{
    hd_buf_addc(b, b->len ? ',' : '{');
    hd_buf_add_i64(b, v);
}

/* A statement being stepped cannot be lent out again: on SQLite
 * sqlite3_stmt_busy says so; db.h has no such question, so a lent
 * statement leaves its place until it is handed back. */
struct hd_db_stmt *hd_store_dshape(struct hd_store *st, unsigned key)
{
    for (size_t i = 0; i < STORE_SHAPES; i++)
        if (st->dshapes[i].key == key && st->dshapes[i].stmt) {
            struct hd_db_stmt *s = st->dshapes[i].stmt;
            st->dshapes[i].stmt = NULL;
            hd_db_reset(s);
            return s;
        }
    return NULL;
}

void hd_store_dshape_done(struct hd_store *st, unsigned key, struct hd_db_stmt *stmt)
{
    size_t free_at = STORE_SHAPES;
    hd_db_reset(stmt); /* ends its read at once */
    for (size_t i = 0; i < STORE_SHAPES; i++) {
        if (st->dshapes[i].key == key) {
            if (st->dshapes[i].stmt)
                hd_db_finalize(stmt); /* one of its shape is kept already */
            else
                st->dshapes[i].stmt = stmt;
            return;
        }
        if (!st->dshapes[i].key && free_at == STORE_SHAPES)
            free_at = i;
    }
    if (free_at == STORE_SHAPES) {
        hd_db_finalize(stmt);
        return;
    }
    st->dshapes[free_at].key = key;
    st->dshapes[free_at].stmt = stmt;
}

char *hd_store_dcol_dup(struct hd_db_stmt *stmt, int i)
{
    const char *t = hd_db_col_text(stmt, i);
    return t ? hd_xstrdup(t) : NULL;
}

void hd_store_bind_limit(struct hd_store *st, struct hd_db_stmt *s, int idx, int64_t limit)
{
    if (limit > 0)
        hd_db_bind_int64(s, idx, limit, NULL);
    else if (st->db)
        hd_db_bind_int64(s, idx, -1, NULL);
    else
        hd_db_bind_null(s, idx, NULL);
}

int hd_store_bulk(struct hd_store *st, int kib, struct hd_err *err)
{
    if (!st->db)
        return 0; /* SQLite's page cache */
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", kib > 0 ? kib : 2000);
    return hd_store_exec(st, sql, err);
}

int hd_store_tune(struct hd_store *st, int cache_kib, int wal_pages, struct hd_err *err)
{
    if (!st->db)
        return 0; /* SQLite's page cache and WAL */
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d; PRAGMA wal_autocheckpoint = %d",
             cache_kib > 0 ? cache_kib : 2000, wal_pages > 0 ? wal_pages : 1000);
    return hd_store_exec(st, sql, err);
}

/* The WAL hook of a writer that leaves its checkpoints to another
 * connection: each commit notes the WAL's size for that one to read, and
 * only past wal_hard (the other fell behind, or is gone) does this one
 * checkpoint, passively, as SQLite's own autocheckpoint would. */
static int wal_noted(void *ud, sqlite3 *db, const char *name, int pages)
{
    struct hd_store *st = ud;
    __atomic_store_n(st->wal_frames, pages, __ATOMIC_RELAXED);
    if (pages >= st->wal_hard)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

void hd_store_wal_defer(struct hd_store *st, int hard_pages, int *pages)
{
    if (!st->db)
        return;
    st->wal_frames = pages;
    st->wal_hard = hard_pages > 0 ? hard_pages : 1000;
    sqlite3_wal_hook(st->db, wal_noted, st);
}

int hd_store_checkpoint(struct hd_store *st, struct hd_err *err)
{
    int rc = hd_store_sqlite_only(st, "a checkpoint", err);
    if (rc < 0)
        return rc;
    /* BUSY: another connection is checkpointing; the next call does it */
    rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : hd_store_fail(st, err, "a checkpoint");
}

/* BEGIN and COMMIT prepared once per connection: the service's writer
 * runs them for every batch, and sqlite3_exec compiled them each time. */
static int run_slot(struct hd_store *st, int slot, const char *sql, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    if (hd_store_cached(st, slot, sql, &s, err) < 0)
        return HD_E_STORE;
    int rc = sqlite3_step(s) == SQLITE_DONE
                 ? 0
                 : hd_err_set(err, HD_E_STORE, "database: %s", sqlite3_errmsg(st->db));
    sqlite3_reset(s);
    return rc;
}

int hd_store_begin(struct hd_store *st, struct hd_err *err)
{
    if (!st->db)
        return hd_db_begin(st->conn, err);
    return run_slot(st, SLOT_BEGIN, "BEGIN IMMEDIATE", err);
}

int hd_store_commit(struct hd_store *st, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_commit(st, err);
    return run_slot(st, SLOT_COMMIT, "COMMIT", err);
}

void hd_store_rollback(struct hd_store *st)
{
    hd_store_work_forget(st);
    if (!st->db) {
        hd_db_rollback(st->conn);
        return;
    }
    hd_db_deferred(st->conn, false, NULL); /* the log's waiting rows: dropped */
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int hd_store_user_version(struct hd_store *st, int *version, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if (!st->db)
        return hd_store_pg_version(st->conn, version, err);
    if ((rc = hd_store_prepare(st, "PRAGMA user_version", &s, err)) < 0)
        return rc;
    if (sqlite3_step(s) != SQLITE_ROW)
        rc = hd_store_fail(st, err, "reading the schema version");
    else
        *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc;
}

int hd_store_migrate(struct hd_store *st, int target, struct hd_err *err)
{
    int v, rc;
    if ((rc = hd_store_sqlite_only(st, "migration (run herald init)", err)) < 0)
        return rc;
    if ((rc = hd_store_user_version(st, &v, err)) < 0)
        return rc;
    if (v > NMIGRATIONS)
        return hd_err_set(err, HD_E_STORE,
                          "database '%s' has schema version %d, newer than this herald "
                          "understands (%d): upgrade herald",
                          st->path, v, NMIGRATIONS);
    for (; v < target; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if ((rc = hd_store_begin(st, err)) < 0)
            return rc;
        if ((rc = hd_store_exec(st, migrations[v], err)) < 0 ||
            (rc = hd_store_exec(st, pragma, err)) < 0 || (rc = hd_store_commit(st, err)) < 0) {
            hd_store_rollback(st);
            return hd_err_prefix(err, "migrating '%s' to schema version %d", st->path, v + 1);
        }
    }
    return 0;
}

/* A new database file is made 0600 before SQLite opens it, since SQLite
 * gives the -wal and -shm files the database's mode: contacts and message
 * text are for herald's user only. So is an empty file a create is about to
 * make the database of (`herald init --db` on a touched file kept its 0644:
 * a review found it). Another existing file keeps its mode; when the file
 * cannot be made, SQLite's open says why. */
static void create_private(const char *path)
{
    struct stat sb;
    if (!*path || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    else if (errno == EEXIST && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
        chmod(path, 0600);
}

/* Only a create may open a zero-byte file (see the top of the file). */
static int refuse_empty(const char *path, struct hd_err *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
        return hd_err_set(err, HD_E_STORE,
                          "database '%s' is empty (0 bytes), not a herald database: restore it "
                          "from a backup, or run 'herald init' to start an empty one",
                          path);
    return 0;
}

static int open_db(const char *path, int flags, int64_t busy_ms, struct hd_store **out,
                   struct hd_err *err)
{
    static bool configured;
    if (!configured) {
        /* SQLite's allocation statistics take a global mutex on every
         * malloc; herald reads none of them. Only possible before the
         * library is initialized, which the first open does. */
        configured = true;
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        /* A statement's journal stays in memory up to 120 KiB (SQLite's
         * default is 64 KiB): once one statement of a transaction outgrew
         * 64 KiB (an insert that split pages in four B-trees), every later
         * statement of that transaction wrote its journal to a temporary
         * file, 35,000 writes for 200,000 pushes. The buffer is allocated
         * whole per statement, so it stays under glibc's mmap threshold. */
        sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 120 << 10);
    }
    if (flags & SQLITE_OPEN_CREATE)
        create_private(path);
    struct hd_store *st = hd_xcalloc(1, sizeof *st);
    st->path = hd_xstrdup(path);
    /* A connection belongs to the thread that opened it (drivers never
     * touch the store), so SQLite need not lock each call. */
    int rc = sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_CANTOPEN && !(flags & SQLITE_OPEN_CREATE))
            hd_err_set(err, HD_E_NOTFOUND,
                       "database '%s' does not exist or cannot be opened: run 'herald init' "
                       "first (or give --db)",
                       path);
        else
            hd_err_set(err, HD_E_STORE, "cannot open database '%s': %s", path,
                       st->db ? sqlite3_errmsg(st->db) : "out of memory");
        hd_store_free(st);
        return err ? err->code : HD_E_STORE;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, (int)(busy_ms > 0 ? busy_ms : 5000));
    if ((rc = hd_store_exec(st, "PRAGMA foreign_keys = ON", err)) < 0) {
        hd_store_free(st);
        return rc;
    }
    st->conn = hd_db_sqlite_adopt(st->db, path);
    *out = st;
    return 0;
}

/* The raw open (tests and tools that bring their own schema) is SQLite's. */
static int refuse_pg(const char *path, struct hd_err *err)
{
    int rc = hd_db_check_target(path, err);
    if (rc < 0 || !hd_db_target_is_pg(path))
        return rc;
    return hd_err_set(err, HD_E_USAGE,
                      "a raw open of a PostgreSQL store is not available (issue 23)");
}

int hd_store_open_raw(const char *path, struct hd_store **out, struct hd_err *err)
{
    int rc = refuse_pg(path, err);
    if (rc < 0)
        return rc;
    return open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000, out, err);
}

/* A PostgreSQL store: only the engine connection; no migration on open
 * (herald init makes and migrates the schema), and a schema of another
 * version is refused. Functions not on db.h yet refuse through
 * hd_store_sqlite_only. */
static int open_pg(const char *path, const struct hd_store_opts *opts, struct hd_store **out,
                   struct hd_err *err)
{
    struct hd_store *st = hd_xcalloc(1, sizeof *st);
    int v, rc;
    st->path = hd_db_redact(path);
    st->target = hd_xstrdup(path);
    st->password = opts->password ? hd_xstrdup(opts->password) : NULL;
    if ((rc = hd_db_open(path, opts->password, false, &st->conn, err)) < 0 ||
        (rc = hd_store_pg_version(st->conn, &v, err)) < 0)
        goto out;
    int want = hd_store_pg_schema_version();
    if (v == 0)
        rc = hd_err_set(err, HD_E_STORE,
                        "database '%s' has no herald schema: run 'herald init' first", st->path);
    else if (v != want)
        rc = hd_err_set(err, HD_E_STORE,
                        v < want ? "database '%s' has schema version %d, this herald needs %d: "
                                   "run 'herald init' to migrate it"
                                 : "database '%s' has schema version %d, newer than this herald "
                                   "understands (%d): upgrade herald",
                        st->path, v, want);
out:
    if (rc < 0) {
        hd_store_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int hd_store_open(const char *path, const struct hd_store_opts *opts, struct hd_store **out,
                  struct hd_err *err)
{
    struct hd_store_opts dflt = {0};
    struct hd_store *st = NULL;
    int rc;
    if (!opts)
        opts = &dflt;
    if ((rc = hd_db_check_target(path, err)) < 0)
        return rc;
    if (hd_db_target_is_pg(path))
        return open_pg(path, opts, out, err);
    int flags = opts->readonly ? SQLITE_OPEN_READONLY
                               : SQLITE_OPEN_READWRITE | (opts->create ? SQLITE_OPEN_CREATE : 0);
    if (!opts->create && (rc = refuse_empty(path, err)) < 0)
        return rc;
    if ((rc = open_db(path, flags, opts->busy_timeout_ms, &st, err)) < 0)
        return rc;
    /* A file that is not a database fails here, on the first read. */
    if (!opts->readonly) {
        /* A new file gets 8 KiB pages (SQLite's default is 4 KiB): bulk
         * imports and segment scans touch fewer pages; a 1,000,000-row import
         * took 14% less time. The size can only be set before the first table
         * and before WAL mode, so existing databases keep theirs. */
        if ((rc = hd_store_exec(st, "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL", err)) <
                0 ||
            (rc = hd_store_exec(st, "PRAGMA synchronous = NORMAL", err)) < 0) {
            hd_err_prefix(err, "database '%s'", path);
            goto out;
        }
        if ((rc = hd_store_migrate(st, NMIGRATIONS, err)) < 0)
            goto out;
    } else {
        int v;
        if ((rc = hd_store_user_version(st, &v, err)) < 0) {
            hd_err_prefix(err, "database '%s'", path);
            goto out;
        }
        if (v != NMIGRATIONS) {
            rc = hd_err_set(err, HD_E_STORE,
                            "database '%s' has schema version %d, this herald needs %d: open it "
                            "once read-write to migrate",
                            path, v, NMIGRATIONS);
            goto out;
        }
    }
out:
    if (rc < 0) {
        hd_store_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void hd_store_free(struct hd_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < sizeof st->cache / sizeof st->cache[0]; i++)
        sqlite3_finalize(st->cache[i]);
    for (size_t i = 0; i < STORE_SHAPES; i++)
        hd_db_finalize(st->dshapes[i].stmt);
    for (size_t i = 0; i < DSLOT_COUNT; i++)
        hd_db_finalize(st->dcache[i]);
    hd_db_close(st->conn);
    hd_store_pg_log_free(st);
    hd_store_lite_log_free(st);
    hd_store_listen_close(st);
    if (st->db)
        sqlite3_close_v2(st->db);
    hd_pauses_free(st->pauses);
    free(st->path);
    if (st->target) /* it may carry the password too */
        OPENSSL_cleanse(st->target, strlen(st->target));
    if (st->password)
        OPENSSL_cleanse(st->password, strlen(st->password));
    free(st->target);
    free(st->password);
    free(st);
}

int hd_store_pauses(struct hd_store *st, struct hd_pauses **out, struct hd_err *err)
{
    int rc = 0;
    /* PostgreSQL's nodes may share no file system: their pauses are the
     * provider_pauses table alone, which each dispatcher reads each second */
    *out = NULL;
    if (hd_store_is_pg(st))
        return 0;
    /* ":memory:" and "" (a temporary database) are no file to share */
    if (!st->pauses && st->path && st->path[0] && strcmp(st->path, ":memory:") != 0)
        rc = hd_pauses_open(st->path, &st->pauses, err);
    *out = st->pauses;
    return rc;
}
