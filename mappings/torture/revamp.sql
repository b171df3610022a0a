-- The convergence harness's revamp side (MariaDB), database `torture_revamp`. Created by
-- `testing/torture.sh` (crates/torture), which drops and recreates it on every run.
-- Even ids here: the harness's writers use auto_increment_increment = 2, auto_increment_offset = 2.
-- The foreign keys restrict deletes, and the application deletes children itself: MySQL/MariaDB
-- neither binlog the deletes an makes nor run triggers for them, so no capture
-- (Debezium's or dualsync's) sees them (docs/consumer.md, "Foreign keys").
CREATE TABLE members (
  member_id   BIGINT PRIMARY KEY AUTO_INCREMENT,
  mail        VARCHAR(200) NOT NULL UNIQUE,
  name        VARCHAR(200) NOT NULL,
  state       CHAR(1) NOT NULL,
  biography   LONGTEXT,
  modified_at DATETIME(6) NOT NULL
);
CREATE TABLE articles (
  article_id BIGINT PRIMARY KEY AUTO_INCREMENT,
  member_id  BIGINT NOT NULL,
  headline   VARCHAR(200) NOT NULL,
  content    LONGTEXT,
  revision   INT NOT NULL DEFAULT 1,
  CONSTRAINT articles_member FOREIGN KEY (member_id) REFERENCES members (member_id)
);
CREATE TABLE reactions (
  member_id  BIGINT NOT NULL,
  article_id BIGINT NOT NULL,
  rating     INT NOT NULL,
  reacted_at DATETIME(6) NOT NULL,
  PRIMARY KEY (member_id, article_id),
  CONSTRAINT reactions_member FOREIGN KEY (member_id) REFERENCES members (member_id),
  CONSTRAINT reactions_article FOREIGN KEY (article_id) REFERENCES articles (article_id)
);
CREATE TABLE labels (
  code VARCHAR(100) PRIMARY KEY,
  text VARCHAR(200) NOT NULL
);
