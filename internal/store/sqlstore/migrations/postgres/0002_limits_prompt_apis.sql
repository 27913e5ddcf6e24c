-- Version 2: rate limits and budgets, and prompt APIs.

-- scope_id refers to api_keys, applications or tenants depending on scope, so there is
-- no foreign key: the store checks it on create and deletes a scope's limits with it.
CREATE TABLE limits (
    id         TEXT    PRIMARY KEY,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    version    BIGINT  NOT NULL,
    scope      TEXT    NOT NULL CHECK (scope IN ('key', 'application', 'tenant')),
    scope_id   TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('requests_per_minute', 'tokens_per_minute', 'concurrent', 'spend')),
    amount     BIGINT  NOT NULL CHECK (amount > 0),
    unit       TEXT    NOT NULL DEFAULT '',
    period     TEXT    NOT NULL DEFAULT '',
    UNIQUE (scope, scope_id, kind, unit, period)
);

CREATE TABLE prompt_apis (
    id           TEXT    PRIMARY KEY,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    version      BIGINT  NOT NULL,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
    name         TEXT    NOT NULL,
    api_version  TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    model        TEXT    NOT NULL,
    template     TEXT    NOT NULL,
    input_schema JSON    NOT NULL,
    lifecycle    TEXT    NOT NULL CHECK (lifecycle IN ('draft', 'published', 'deprecated', 'retired')),
    UNIQUE (tenant_id, name, api_version)
);
CREATE INDEX prompt_apis_tenant ON prompt_apis (tenant_id, id);
