-- Version 3: users' own tokens for the management API ("pu_..."), hashed like API keys.

CREATE TABLE user_tokens (
    id         TEXT    PRIMARY KEY,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    version    BIGINT  NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    name       TEXT    NOT NULL DEFAULT '',
    prefix     TEXT    NOT NULL,
    hash       BYTEA   NOT NULL UNIQUE,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, id);
