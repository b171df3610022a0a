-- The demo shop's legacy side (MySQL/MariaDB), database `shop`.
CREATE TABLE customers (
  id          INT PRIMARY KEY AUTO_INCREMENT,
  first_name  VARCHAR(50) NOT NULL,
  last_name   VARCHAR(50) NOT NULL,
  email       VARCHAR(255) NOT NULL UNIQUE,
  status      ENUM('active', 'inactive', 'banned') NOT NULL DEFAULT 'active',
  is_vip      TINYINT(1) NOT NULL DEFAULT 0,
  prefs       JSON,
  legacy_code VARCHAR(20),
  sync_source VARCHAR(16) NOT NULL DEFAULT 'legacy',
  modified    DATETIME(6) NOT NULL
);
CREATE TABLE orders (
  id          INT PRIMARY KEY AUTO_INCREMENT,
  cust_id     INT NOT NULL,
  shop_id     INT NOT NULL DEFAULT 1,
  total       DECIMAL(10, 2) NOT NULL,
  placed      DATETIME(6) NOT NULL,
  state       ENUM('new', 'paid', 'shipped', 'cancelled') NOT NULL,
  sync_source VARCHAR(16) NOT NULL DEFAULT 'legacy',
  version     INT NOT NULL DEFAULT 1
);
