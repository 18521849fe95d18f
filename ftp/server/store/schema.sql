-- The PostgreSQL schema of sockserv-ftpd's database store (doc/ftpd.md,
-- "Shared state in PostgreSQL").  `sockserv-ftpd db init` applies it; the
-- program embeds this file at build time.
--
-- Each "-- version N" section is one migration step, applied in order, each
-- in its own transaction together with the update of schema_version, so a
-- database at version K gets steps K+1.. and nothing else.  A released step
-- is never edited: a change of schema is a new section at the end.
--
-- Conventions: byte counts are bigint; NULL quota means unlimited; rates
-- are bytes/s, 0 the server's default and -1 unlimited (the users file's
-- "unlimited"); times are the database's clock (now()), so nodes need no
-- synchronised clocks.  Rows a node owns carry its id (config node_id).

-- version 1
CREATE TABLE ftpd_users (
    name      text PRIMARY KEY
              CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$'),
    hash      text NOT NULL,
    home      text NOT NULL CHECK (home <> ''),
    quota     bigint CHECK (quota >= 0),
    rate_up   bigint NOT NULL DEFAULT 0 CHECK (rate_up >= -1),
    rate_down bigint NOT NULL DEFAULT 0 CHECK (rate_down >= -1),
    created   timestamptz NOT NULL DEFAULT now()
);

-- Bytes a user has on disk as the nodes accounted them (settled writes
-- minus deletions).  Space granted to writes in progress is in
-- ftpd_reservations; a grant locks this row (FOR UPDATE), so the nodes
-- decide one after another.
CREATE TABLE ftpd_usage (
    name  text PRIMARY KEY REFERENCES ftpd_users ON DELETE CASCADE,
    used  bigint NOT NULL DEFAULT 0 CHECK (used >= 0)
);

CREATE TABLE ftpd_nodes (
    id        text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    started   timestamptz NOT NULL DEFAULT now(),
    heartbeat timestamptz NOT NULL DEFAULT now()
);

-- Space granted to one session's write and not yet settled.  A node's
-- rows go when its heartbeat is older than the timeout.
CREATE TABLE ftpd_reservations (
    node    text NOT NULL,
    session text NOT NULL,
    name    text NOT NULL REFERENCES ftpd_users ON DELETE CASCADE,
    bytes   bigint NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (node, session)
);
CREATE INDEX ftpd_reservations_name ON ftpd_reservations (name);

-- Logged-in sessions: max_sessions_per_user counts these rows.
CREATE TABLE ftpd_sessions (
    node    text NOT NULL,
    session text NOT NULL,
    name    text NOT NULL,
    client  text NOT NULL DEFAULT '',
    started timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, session)
);
CREATE INDEX ftpd_sessions_name ON ftpd_sessions (name);

-- Failed logins per client host (kind 'h') and per user name (kind 'u'):
-- count since first; banned_until set when the count reaches the limit.
CREATE TABLE ftpd_failures (
    kind         char(1) NOT NULL CHECK (kind IN ('h', 'u')),
    key          text NOT NULL,
    count        integer NOT NULL DEFAULT 0,
    first        timestamptz NOT NULL DEFAULT now(),
    banned_until timestamptz,
    PRIMARY KEY (kind, key)
);

-- One step of a session's quota accounting, for user n and the
-- reservation (nd, sess), in one round trip:
--   settled  bytes written: leave the reservation, join the usage;
--   release  bytes granted and not written: leave the reservation;
--   back     bytes freed on disk (DELE, overwrite, RMD): leave the usage
--            (never below 0);
--   want     bytes to grant: at most what is left under the quota after the
--            usage and every reservation of every node.
-- The usage row is locked first (FOR UPDATE), so concurrent steps of one
-- user, from any node, run one after another and the grants never pass
-- the quota together.  Returns the grant and the user's total (usage plus
-- every reservation) and quota (NULL: unlimited) afterwards; no row when
-- the user does not exist.
CREATE FUNCTION ftpd_account(n text, nd text, sess text, settled bigint,
                             release bigint, back bigint, want bigint,
                             OUT granted bigint, OUT total bigint,
                             OUT quota bigint)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    u bigint;
    r bigint;
BEGIN
    INSERT INTO ftpd_usage (name) SELECT n
        WHERE EXISTS (SELECT 1 FROM ftpd_users WHERE name = n)
        ON CONFLICT DO NOTHING;
    SELECT used INTO u FROM ftpd_usage WHERE name = n FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT ftpd_users.quota INTO quota FROM ftpd_users WHERE name = n;
    u := greatest(0, u + settled - back);
    UPDATE ftpd_usage SET used = u WHERE name = n;
    IF settled + release > 0 THEN
        UPDATE ftpd_reservations
            SET bytes = greatest(0, bytes - settled - release)
            WHERE node = nd AND session = sess;
    END IF;
    SELECT coalesce(sum(bytes), 0) INTO r FROM ftpd_reservations
        WHERE name = n;
    IF quota IS NULL THEN
        granted := want;
    ELSE
        granted := greatest(0, least(want, quota - u - r));
    END IF;
    IF granted > 0 THEN
        INSERT INTO ftpd_reservations (node, session, name, bytes)
            VALUES (nd, sess, n, granted)
            ON CONFLICT (node, session)
            DO UPDATE SET bytes = ftpd_reservations.bytes + excluded.bytes;
    ELSE
        DELETE FROM ftpd_reservations
            WHERE node = nd AND session = sess AND bytes = 0;
    END IF;
    total := u + r + granted;
    RETURN NEXT;
END $$;

-- Removes what belongs to nodes whose heartbeat is older than timeout:
-- their sessions, reservations and node rows, and rows of nodes that have
-- no row any more.  Any node may call it; live nodes' rows stay.  Returns
-- the number of nodes released.
CREATE FUNCTION ftpd_release_stale(timeout interval)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    k integer;
BEGIN
    DELETE FROM ftpd_nodes WHERE heartbeat < now() - timeout;
    GET DIAGNOSTICS k = ROW_COUNT;
    DELETE FROM ftpd_sessions s
        WHERE NOT EXISTS (SELECT 1 FROM ftpd_nodes WHERE id = s.node);
    DELETE FROM ftpd_reservations r
        WHERE NOT EXISTS (SELECT 1 FROM ftpd_nodes WHERE id = r.node);
    RETURN k;
END $$;

-- A node starting under id nd: its row is fresh.  What an earlier
-- process under the same id left behind is the node's own sweep's to
-- release (it knows which of its session processes are gone; during an
-- upgrade in place the old process still serves its sessions).
CREATE FUNCTION ftpd_node_start(nd text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ftpd_nodes (id) VALUES (nd)
        ON CONFLICT (id) DO UPDATE SET started = now(), heartbeat = now();
END $$;

-- Takes a logged-in session slot for user n unless it has max (0: no
-- limit) already, on every node together.  The per-name advisory lock
-- makes count-then-insert one step.  Returns true when taken.
CREATE FUNCTION ftpd_session_acquire(nd text, sess text, n text, cl text,
                                     max integer)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ftpd_sessions'), hashtext(n));
    IF max > 0 AND (SELECT count(*) FROM ftpd_sessions WHERE name = n) >= max
    THEN
        RETURN false;
    END IF;
    INSERT INTO ftpd_sessions (node, session, name, client)
        VALUES (nd, sess, n, cl)
        ON CONFLICT (node, session) DO UPDATE SET name = excluded.name;
    RETURN true;
END $$;

-- Counts one failed login against a host (kind 'h') or a name ('u'):
-- failures older than ban_time are forgotten first; at ban_after (0:
-- never) the key is banned for ban_time.  Returns the count.
CREATE FUNCTION ftpd_fail(k char(1), ky text, ban_after integer,
                          ban_time interval)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    c integer;
BEGIN
    INSERT INTO ftpd_failures AS f (kind, key, count) VALUES (k, ky, 1)
        ON CONFLICT (kind, key) DO UPDATE SET
            count = CASE WHEN f.first < now() - ban_time
                         AND (f.banned_until IS NULL OR f.banned_until < now())
                         THEN 1 ELSE f.count + 1 END,
            first = CASE WHEN f.first < now() - ban_time
                         AND (f.banned_until IS NULL OR f.banned_until < now())
                         THEN now() ELSE f.first END
        RETURNING count INTO c;
    IF ban_after > 0 AND c >= ban_after THEN
        UPDATE ftpd_failures SET banned_until = now() + ban_time
            WHERE kind = k AND key = ky;
    END IF;
    RETURN c;
END $$;
