-- Sentinel deployment routing: the Unkey-style schema read by src/deployments/mysql-store.ts.
-- MySQL 8 / MariaDB 10.6+. The proxy only reads: deployments by id, and the instances of one
-- deployment in one region (joined through regions on platform + name). Other columns are kept
-- so that a database shared with an Unkey-style control plane needs no change.
-- Ids use a binary collation (case-sensitive); the store also re-checks ids in code.

CREATE TABLE IF NOT EXISTS regions (
  id           VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  name         VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  platform     VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  can_schedule BOOLEAN NOT NULL DEFAULT TRUE,
  PRIMARY KEY (id),
  UNIQUE KEY unique_region_per_platform (name, platform)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS deployments (
  pk                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id                VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  workspace_id      VARCHAR(256) NOT NULL DEFAULT '',
  project_id        VARCHAR(256) NOT NULL DEFAULT '',
  environment_id    VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  status            ENUM('pending','starting','building','deploying','network','finalizing','ready','failed',
                         'skipped','awaiting_approval','stopped','superseded','cancelled') NOT NULL DEFAULT 'pending',
  desired_state     ENUM('running','standby','archived') NOT NULL DEFAULT 'running',
  upstream_protocol ENUM('http1','h2c') NOT NULL DEFAULT 'http1',
  sentinel_config   LONGBLOB NULL,
  created_at        BIGINT NOT NULL DEFAULT 0,
  updated_at        BIGINT NULL,
  PRIMARY KEY (pk),
  UNIQUE KEY deployments_id_unique (id),
  KEY environment_id_idx (environment_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS instances (
  pk             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id             VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  deployment_id  VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  workspace_id   VARCHAR(256) NOT NULL DEFAULT '',
  project_id     VARCHAR(256) NOT NULL DEFAULT '',
  region_id      VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  k8s_name       VARCHAR(255) NOT NULL DEFAULT '',
  address        VARCHAR(255) NOT NULL,
  cpu_millicores INT NOT NULL DEFAULT 0,
  memory_mib     INT NOT NULL DEFAULT 0,
  status         ENUM('inactive','pending','running','failed') NOT NULL,
  PRIMARY KEY (pk),
  UNIQUE KEY instances_id_unique (id),
  KEY instances_deployment_region_idx (deployment_id, region_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
