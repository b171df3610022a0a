-- The convergence harness's legacy side (PostgreSQL), schema `torture`. Created by
-- `testing/torture.sh` (crates/torture), which drops and recreates it on every run.
-- Odd ids here (INCREMENT BY 2 from 1), even ids on the revamp side: disjoint id ranges.
-- `bio` is large enough to be TOASTed; the tables keep the default replica identity, so an
-- update that leaves `bio` alone sends it as "unchanged" and a delete sends the key alone.
CREATE SEQUENCE torture.people_id_seq START 1 INCREMENT BY 2;
CREATE TABLE torture.people (
  id         BIGINT PRIMARY KEY DEFAULT nextval('torture.people_id_seq'),
  email      VARCHAR(200) NOT NULL UNIQUE,
  full_name  VARCHAR(200) NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('active', 'banned')),
  bio        TEXT,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE SEQUENCE torture.posts_id_seq START 1 INCREMENT BY 2;
CREATE TABLE torture.posts (
  id        BIGINT PRIMARY KEY DEFAULT nextval('torture.posts_id_seq'),
  person_id BIGINT NOT NULL REFERENCES torture.people (id) ON DELETE CASCADE,
  title     VARCHAR(200) NOT NULL,
  body      TEXT,
  version   INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE torture.likes (
  person_id BIGINT NOT NULL REFERENCES torture.people (id) ON DELETE CASCADE,
  post_id   BIGINT NOT NULL REFERENCES torture.posts (id) ON DELETE CASCADE,
  stars     INTEGER NOT NULL,
  liked_at  TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (person_id, post_id)
);
-- No conflict column: each side writes only the codes it owns (see docs/consumer.md).
CREATE TABLE torture.tags (
  code  VARCHAR(100) PRIMARY KEY,
  label VARCHAR(200) NOT NULL
);
