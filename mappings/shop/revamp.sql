-- The demo shop's revamp side (PostgreSQL), schema `public`.
CREATE TABLE customers (
  id           INTEGER PRIMARY KEY,
  full_name    TEXT NOT NULL,
  email        TEXT NOT NULL UNIQUE,
  state        TEXT NOT NULL CHECK (state IN ('Active', 'Inactive', 'Banned')),
  vip          BOOLEAN NOT NULL DEFAULT false,
  preferences  JSONB,
  loyalty_tier TEXT NOT NULL DEFAULT 'bronze',
  is_deleted   BOOLEAN NOT NULL DEFAULT false,
  sync_source  TEXT NOT NULL DEFAULT 'revamp' CHECK (sync_source IN ('revamp', 'dualsync')),
  updated_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE purchases (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL,
  amount      NUMERIC(10, 2) NOT NULL,
  placed_at   TIMESTAMPTZ NOT NULL,
  status      TEXT NOT NULL,
  sync_source TEXT NOT NULL DEFAULT 'revamp',
  version     INTEGER NOT NULL DEFAULT 1
);
