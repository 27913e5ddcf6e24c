-- Pylon store schema, version 1: tenants, users, applications, API keys, the API
-- catalog, subscriptions and the change feed.
--
-- Times are INTEGER microseconds since the Unix epoch (UTC) in both dialects, so that
-- one set of queries serves SQLite and PostgreSQL and values round-trip exactly.
-- Ids are UUIDv7 text: they sort in creation order, which is the list order.

CREATE TABLE tenants (
    id           TEXT    PRIMARY KEY,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    name         TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id         TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    tenant_id  TEXT    REFERENCES tenants (id),
    email      TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL DEFAULT '',
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'tenant_admin', 'developer', 'viewer'))
);
CREATE INDEX users_tenant ON users (tenant_id, id);

CREATE TABLE applications (
    id          TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    UNIQUE (tenant_id, name)
);
CREATE INDEX applications_tenant ON applications (tenant_id, id);

CREATE TABLE api_keys (
    id             TEXT    PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    application_id TEXT    NOT NULL REFERENCES applications (id),
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id),
    name           TEXT    NOT NULL DEFAULT '',
    prefix         TEXT    NOT NULL,
    hash           BLOB    NOT NULL UNIQUE,
    scopes         TEXT    NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER
);
CREATE INDEX api_keys_application ON api_keys (application_id, id);

CREATE TABLE apis (
    id                TEXT    PRIMARY KEY,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    tenant_id         TEXT    NOT NULL REFERENCES tenants (id),
    name              TEXT    NOT NULL,
    api_version       TEXT    NOT NULL,
    title             TEXT    NOT NULL DEFAULT '',
    description       TEXT    NOT NULL DEFAULT '',
    lifecycle         TEXT    NOT NULL CHECK (lifecycle IN ('draft', 'published', 'deprecated', 'retired')),
    requires_approval INTEGER NOT NULL,
    UNIQUE (tenant_id, name, api_version)
);
CREATE INDEX apis_tenant ON apis (tenant_id, id);

CREATE TABLE subscriptions (
    id             TEXT    PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    application_id TEXT    NOT NULL REFERENCES applications (id),
    api_id         TEXT    NOT NULL REFERENCES apis (id),
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked')),
    reason         TEXT    NOT NULL DEFAULT '',
    UNIQUE (application_id, api_id)
);
CREATE INDEX subscriptions_api ON subscriptions (api_id, id);

-- One row: bumped by every write transaction; nodes poll it.
CREATE TABLE store_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO store_revision (id, revision) VALUES (1, 0);

-- What each revision wrote, pruned to the last few thousand revisions.
CREATE TABLE store_changes (
    revision  INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    object_id TEXT    NOT NULL,
    op        TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (revision, seq)
);
