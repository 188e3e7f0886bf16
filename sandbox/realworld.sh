# shellcheck shell=bash
# Sourced by sandbox/ctl: a second compose project beside the demo, written the way real
# projects write it: compose.yaml with x- extension fields, &anchors and <<: merge keys, flow
# maps, a long-form volume and folded strings, plus compose.override.yaml (which moves the
# port: the stack answers on the override's port only when both files are read).
#
#   project "shop" in /opt/shop, service shop-api on 127.0.0.1:19181 (compose.yaml alone: 19081),
#   its own database "shop", image shop-api:base (local; a capture builds shop-api:<tag> FROM it),
#   capture source tree $ST/realworld/src, console config $ST/realworld.toml,
#   secrets in $ST/realworld-env.sh (source it: SANDBOX_SHOP_DATABASE_URL).

RW_DIR=/opt/shop
RW_PROJECT=shop
RW_DB=shop
RW_PORT=19181          # compose.override.yaml's
RW_BASE_PORT=19081     # compose.yaml's own
RW_SRC="$ST/realworld/src"
RW_CONFIG="$ST/realworld.toml"

rw_compose_yaml() { # image_line -> compose.yaml on stdout
  cat <<EOF
# Shop API: a compose file as real projects write it.
x-logging: &logging
  logging: {driver: json-file, options: {max-size: "10m", max-file: "3"}}

x-service: &service
  <<: *logging
  init: true
  restart: unless-stopped
  network_mode: host      # the sandbox binds 127.0.0.1 only

services:
  shop-api:
    <<: *service
$1
    env_file: api/.env
    environment: &api-env
      SERVICE: backend
      PORT: "$RW_BASE_PORT"          # compose.override.yaml moves it
      STATE_DIR: /opt/mr-dj/state
    labels: {"com.example.owner#team": shop, tier: api}
    volumes:
      - type: volume
        source: shop-state
        target: /opt/mr-dj/state
    command: >-
      /app/entrypoint.sh

volumes:
  shop-state: {}
EOF
}

rw_override_yaml() {
  cat <<EOF
# Local override: read by compose automatically, and by the console with compose.yaml.
services:
  shop-api:
    environment:
      PORT: "$RW_PORT"
    labels:
      com.example.override: "true"
EOF
}

rw_env() {
  printf 'NODE_ENV=production\nDATABASE_URL=%s\nSMOKE_BACKEND_URL=http://127.0.0.1:%s/api/health\n' \
    "$(db_url "$RW_DB")" "$RW_PORT"
}

rw_running() {
  [ -n "$(docker ps -q --filter "label=com.docker.compose.project=$RW_PROJECT" \
          --filter "label=com.docker.compose.service=shop-api" --filter status=running 2>/dev/null)" ]
}
rw_compose() {
  (cd "$RW_DIR" && runuser -u "$DEPLOY_USER" -- env DOCKER_HOST="$DOCKER_HOST" \
     HOME="$(getent passwd "$DEPLOY_USER" | cut -d: -f6)" \
     docker-compose -p "$RW_PROJECT" -f compose.yaml -f compose.override.yaml "$@")
}

rw_build() { # shop-api:base from the demo's backend rootfs (npm, psql, serve.sh)
  local dir="$ST/build/realworld" fp
  fp=$( (build_fingerprint; declare -f rw_build) | sha256sum | cut -d' ' -f1)
  [ "$(cat "$dir/done" 2>/dev/null)" = "$fp" ] && q docker image inspect shop-api:base && return 0
  log "building shop-api:base"
  make_rootfs "$dir/rootfs" backend base 001_init 002_add_booking_notes
  write_dockerfile "$dir" backend base "$RW_BASE_PORT"
  docker build -q -t shop-api:base "$dir" >/dev/null 2>>"$LOG/build.log" \
    || { tail -n 20 "$LOG/build.log" >&2; die "docker build shop-api:base failed"; }
  echo "$fp" > "$dir/done"
}

rw_source() { # the capture source tree: build: ./api, FROM shop-api:base, RELEASE written by the test
  rm -rf "$RW_SRC"; mkdir -p "$RW_SRC/api"
  rw_compose_yaml "    build:
      context: ./api
    image: shop-api:latest" > "$RW_SRC/compose.yaml"
  rw_override_yaml > "$RW_SRC/compose.override.yaml"
  rw_env > "$RW_SRC/api/.env"
  chmod 600 "$RW_SRC/api/.env"
  printf 'FROM shop-api:base\nCOPY RELEASE /app/RELEASE\n' > "$RW_SRC/api/Dockerfile"
  echo base > "$RW_SRC/api/RELEASE"
}

rw_database() {
  pg_admin -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname='$RW_DB'" | grep -q 1 \
    || pg_admin -d postgres -c "CREATE DATABASE $RW_DB OWNER mrdj"
  PGOPTIONS="-c client_min_messages=warning" PGAPP_DB=$RW_DB pg_app -c "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz DEFAULT now())"
  PGAPP_DB=$RW_DB db_apply 001_init
  PGAPP_DB=$RW_DB db_apply 002_add_booking_notes
}

rw_deploy_base() { # /opt/shop := shop-api:base, deployed by hand as a team's own tooling would
  log "deploying shop-api:base to $RW_DIR"
  rm -rf "$RW_DIR"; mkdir -p "$RW_DIR/api"
  rw_compose_yaml "    image: shop-api:base" > "$RW_DIR/compose.yaml"
  rw_override_yaml > "$RW_DIR/compose.override.yaml"
  rw_env > "$RW_DIR/api/.env"
  chmod 600 "$RW_DIR/api/.env"
  chown -R "$DEPLOY_USER:$DEPLOY_USER" "$RW_DIR"
  docker ps -aq --filter "label=com.docker.compose.project=$RW_PROJECT" | xargs -r docker rm -f >/dev/null
  rw_compose up -d --remove-orphans >>"$LOG/compose.log" 2>&1 \
    || { tail -n 20 "$LOG/compose.log" >&2; die "shop docker-compose up failed"; }
  local i
  for i in $(seq 1 80); do
    [ "$(http_version "http://127.0.0.1:$RW_PORT/api/health" | cut -d' ' -f1)" = 200 ] && return 0
    sleep 0.25
  done
  die "shop did not answer on :$RW_PORT"
}

rw_config() {
  write_db_env "$ST/realworld-env.sh" SANDBOX_SHOP_DATABASE_URL "$RW_DB" "the shop project's database (sandbox/realworld.sh)"
  cat <<EOF | write_if_changed "$RW_CONFIG" 644
# incident-console configuration for the sandbox's "shop" project (generated by sandbox/ctl).
# compose.yaml + compose.override.yaml are picked the way docker compose picks them; the
# compose flavour is detected on the host. Source $ST/realworld-env.sh first.
operator = "sandbox"

[target]
host = "127.0.0.1"
$(login_toml "$ST/ssh/known_hosts")
project_dir = "$RW_DIR"
project_name = "$RW_PROJECT"
artifacts_dir = "$ARTIFACTS_DIR"

[registry]
url = "$REGISTRY"

[[services]]
name = "shop-api"
image = "shop-api"
role = "backend"

[[health]]
name = "api"
url = "http://127.0.0.1:$RW_PORT/api/health"
expected_status = 200
timeout = 5
interval = 2
version_key = "version"
expect = { status = "ok" }

[commands]
maintenance_on = ["npm", "run", "maintenance:on"]
maintenance_off = ["npm", "run", "maintenance:off"]
migrate_rollback = ["npm", "run", "migrate:rollback", "--", "--to", "{migration}"]
migrate_status = ["npm", "run", "migrate:status"]
smoke_tests = [["npm", "run", "smoke:test", "--prefix", "backend"]]
service_command_mode = "exec"

[thresholds]
monitor_minutes = 1
health_wait_seconds = 30

[paths]
state_dir = "$ST/realworld/console-state"
release_log = "$ST/realworld/releases.toml"

[capture]
source_dir = "$RW_SRC"
env_files = ["api/.env"]
local_artifacts_dir = "$ST/realworld/artifacts"
database_url = "env:SANDBOX_SHOP_DATABASE_URL"
EOF
}

ensure_realworld() {
  rw_build
  rw_database
  rw_source
  rw_config
  if [ ! -f "$RW_DIR/compose.override.yaml" ] || ! rw_running; then
    rw_deploy_base
  fi
  log "realworld project $RW_PROJECT: $RW_DIR, config $RW_CONFIG"
}
