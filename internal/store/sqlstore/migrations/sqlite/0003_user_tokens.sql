-- Version 3: users' own tokens for the management API ("pu_..."), hashed like API keys.

CREATE TABLE user_tokens (
    id         TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    name       TEXT    NOT NULL DEFAULT '',
    prefix     TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, id);
