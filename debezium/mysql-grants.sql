-- What the MySQL side needs for change capture (Debezium's MySQL connector or `dualsync capture`)
-- and for `dualsync install-triggers`, for the user `dualsync` that docker-compose.yml creates.
-- Run once as root; docker-compose.yml mounts it into the server's init folder.
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'dualsync'@'%';
GRANT ALL PRIVILEGES ON shop.* TO 'dualsync'@'%';
FLUSH PRIVILEGES;
