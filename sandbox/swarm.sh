# shellcheck shell=bash
# Sourced by sandbox/ctl after fleet.sh (uses its vps_* helpers): a single-node Docker Swarm (issue 14).
#
#   manager swarm1 on 127.0.0.21: its own dockerd (socket /run/incident-sandbox-swarm.sock, data $ST/swarm/docker,
#     exec-root /run/incident-sandbox-swarm, `docker swarm init --advertise-addr 127.0.0.21`) and its own sshd
#     on 127.0.0.21:2222 (user deploy, the sandbox's client key, SetEnv DOCKER_HOST=<that socket>);
#   stack "mrdj" (services mrdj_backend, mrdj_frontend, one replica each, on the host network, bound to
#     127.0.0.21:18081/18082), stack file /opt/swarm/mr-dj/docker-compose.yml with images pinned by digest
#     from the local registry, database mrdj_swarm, artifacts /opt/swarm/artifacts (v1, v2; v2 deployed);
#   config $ST/swarm.toml, release log $ST/swarm-releases.toml, state dir $ST/swarm-console-state,
#   known_hosts $ST/swarm/known_hosts, secrets in $ST/swarm-env.sh (SANDBOX_SWARM_DATABASE_URL).
#
# `docker stack deploy` does not read .env (no variable substitution from it): the stack file and its
# env_file:s (which it does read, on the client, relative to the stack file) hold every value literally.

SWARM_NAME=swarm1
SWARM_ADDR=127.0.0.21
SWARM_SOCK=/run/incident-sandbox-swarm.sock
SWARM_XROOT=/run/incident-sandbox-swarm
SWARM_ST="$ST/swarm"
SWARM_DIR=/opt/swarm/mr-dj
SWARM_ARTIFACTS_DIR=/opt/swarm/artifacts
SWARM_STACK=mrdj
SWARM_DB=mrdj_swarm
SWARM_ARTIFACTS="$SWARM_ST/artifacts"
SWARM_KNOWN_HOSTS="$SWARM_ST/known_hosts"
SWARM_CONFIG="$ST/swarm.toml"
SWARM_RELEASE_LOG="$ST/swarm-releases.toml"
SWARM_STATE_DIR="$ST/swarm-console-state"
SWARM_OWNER_FILE=/opt/swarm/.sandbox-checkout

swarm_docker() { DOCKER_HOST="unix://$SWARM_SOCK" timeout 120 docker "$@"; }
swarm_digest() { sed -n "s/^digest_$2=//p" "$ST/build/$1/meta"; }   # release service
swarm_image() { echo "$REGISTRY/mr-dj-$2:$1@$(swarm_digest "$1" "$2")"; }   # release service

swarm_stack_yaml() { # release
  cat <<EOF
# Mister DJ $1 as a Swarm stack: docker stack deploy -c docker-compose.yml --with-registry-auth $SWARM_STACK
# Images pinned by digest. No .env substitution (docker stack deploy does not read .env): values are literal.
version: "3.8"
services:
EOF
  swarm_service_yaml "$1" backend
  swarm_service_yaml "$1" frontend
  cat <<EOF
networks:
  hostnet:   # a single-node swarm on a --bridge=none engine: services share the host's network
    external: true
    name: host
EOF
}
swarm_service_yaml() { # release service: one service of the stack (backend and frontend run alike)
  cat <<EOF
  $2:
    image: $(swarm_image "$1" "$2")
    init: true
    env_file: $2/.env
    volumes:
      - $SWARM_DIR/state:/opt/mr-dj/state
    networks: [hostnet]
    deploy:
      replicas: 1
      update_config: {parallelism: 1, order: stop-first}
      restart_policy: {condition: any, delay: 1s}
EOF
}
swarm_build() { # $SWARM_ARTIFACTS := v1/v2 stack bundles + the single host's image tarballs + SHA256SUMS
  local fp
  fp=$( (cat "$ST/build/done"; declare -f swarm_stack_yaml swarm_service_yaml vps_bundles swarm_build swarm_env_files swarm_source; db_url "$SWARM_DB") | sha256sum | cut -d' ' -f1)
  [ "$(cat "$SWARM_ST/built" 2>/dev/null)" = "$fp" ] && return 0
  log "writing the swarm's release bundles"
  vps_bundles "$SWARM_ST" "$SWARM_ARTIFACTS" swarm_stack_yaml swarm_env_files
  swarm_source
  rm -f "$SWARM_ST/deployed" "$SWARM_RELEASE_LOG"
  echo "$fp" > "$SWARM_ST/built"
}

swarm_env_files() { # dir release: the stack's env files (literal values: the manager's own address)
  printf 'RELEASE=%s\nNODE_ENV=production\nDATABASE_URL=%s\nBIND_ADDR=%s\nSMOKE_BACKEND_URL=http://%s:18081/api/health\nSMOKE_FRONTEND_URL=http://%s:18082/api/health\n' \
    "$2" "$(db_url "$SWARM_DB")" "$SWARM_ADDR" "$SWARM_ADDR" "$SWARM_ADDR" > "$1/backend/.env"
  printf 'RELEASE=%s\nNODE_ENV=production\nBIND_ADDR=%s\nAPI_URL=http://%s:18081\n' "$2" "$SWARM_ADDR" "$SWARM_ADDR" > "$1/frontend/.env"
  chmod 600 "$1/backend/.env" "$1/frontend/.env"
}
swarm_source() { # [capture] source_dir of swarm.toml: the single host's "v3" working tree, a stack file that builds
  local src="$SWARM_ST/src"
  rm -rf "$src"; cp -a "$ST/src" "$src"
  swarm_stack_yaml v2 | sed -e "s|^    image: $REGISTRY/mr-dj-\([a-z]*\):v2@.*\$|    build: ./\1\n    image: mr-dj-\1:latest|" \
    -e '1s|.*|# Mister DJ working tree for the swarm (capture source): built, tagged and pinned by digest it is the stack file.|' \
    -e '2s|.*|# No .env substitution (docker stack deploy does not read .env): values are literal.|' \
    > "$src/docker-compose.yml"
  swarm_env_files "$src" v3
  mkdir -p "$src/artifacts"
}

swarm_services() { # "name replicas" lines of the stack
  swarm_docker stack services "$SWARM_STACK" --format '{{.Name}} {{.Replicas}}' 2>/dev/null | sort
}
swarm_converged() { # both services there with N/N replicas (N > 0)
  local out
  out=$(swarm_services)
  printf '%s\n' "$out" | grep -Eq "^${SWARM_STACK}_backend ([1-9][0-9]*)/\1( |$)" &&
    printf '%s\n' "$out" | grep -Eq "^${SWARM_STACK}_frontend ([1-9][0-9]*)/\1( |$)"
}
swarm_runs_v2() { # v2 as captured answers on the manager's address and the services' specs are v2's pinned images
  vps_answers_v2 "$SWARM_ADDR" || return 1
  [ "$(swarm_docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${SWARM_STACK}_backend" "${SWARM_STACK}_frontend" 2>/dev/null | tr '\n' ' ')" \
    = "$(swarm_image v2 backend) $(swarm_image v2 frontend) " ]
}
swarm_files_v2() { # stack dir := v2 bundle (state/ kept); no lock, maintenance, faults; artifacts pristine
  mkdir -p "$SWARM_DIR/state"
  rm -rf "$SWARM_DIR/.incident-console.lock"
  rm -f "$SWARM_DIR/state/maintenance.on" "$SWARM_DIR"/state/fault.*
  vps_sync_dir "$SWARM_ARTIFACTS" "$SWARM_ARTIFACTS_DIR"
  find "$SWARM_DIR" -mindepth 1 -maxdepth 1 ! -name state -exec rm -rf {} +
  chown "$DEPLOY_USER:$DEPLOY_USER" /opt/swarm "$SWARM_DIR" "$SWARM_DIR/state"
  runuser -u "$DEPLOY_USER" -- tar -xzf "$SWARM_ARTIFACTS_DIR/v2-compose.tar.gz" -C "$SWARM_DIR"
}
swarm_deploy() { # v2 deployed as the stack
  swarm_files_v2
  swarm_stack_deploy_v2
}
swarm_stack_deploy_v2() { # what the console's swarm rollback does, with v2's stack file
  swarm_stack_deploy
  vps_wait_version v2 "$SWARM_ADDR" 240 || { swarm_docker service ps --no-trunc "${SWARM_STACK}_backend" >&2 || true; die "swarm: the stack did not answer as v2 on $SWARM_ADDR:18081/18082"; }
  touch "$SWARM_ST/deployed"
}
swarm_stack_deploy() { # the stack file in the stack dir, as it is
  (cd "$SWARM_DIR" && runuser -u "$DEPLOY_USER" -- env DOCKER_HOST="unix://$SWARM_SOCK" \
     HOME="$(getent passwd "$DEPLOY_USER" | cut -d: -f6)" \
     timeout 120 docker stack deploy -c docker-compose.yml --with-registry-auth --prune "$SWARM_STACK") \
    >>"$LOG/swarm-deploy.log" 2>&1 || { tail -n 20 "$LOG/swarm-deploy.log" >&2; die "docker stack deploy $SWARM_STACK failed"; }
}
swarm_init() { # a single-node swarm advertised on the manager's own loopback address
  local st
  st=$(swarm_docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)
  [ "$st" = active ] && return 0
  log "docker swarm init ($SWARM_ADDR)"
  swarm_docker swarm init --advertise-addr "$SWARM_ADDR" --listen-addr "$SWARM_ADDR:2377" --task-history-limit 2 \
    >>"$LOG/swarm-deploy.log" 2>&1 || { tail -n 5 "$LOG/swarm-deploy.log" >&2; die "docker swarm init failed"; }
  rm -f "$SWARM_ST/deployed"
}
swarm_start_engine() { vps_start_dockerd swarm "$SWARM_ST" "$SWARM_SOCK" "$SWARM_XROOT"; }

swarm_config() {
  write_db_env "$ST/swarm-env.sh" SANDBOX_SWARM_DATABASE_URL "$SWARM_DB" "the swarm stack's database (sandbox/swarm.sh)"
  printf '[%s]:%s %s\n' "$SWARM_ADDR" "$SSH_PORT" "$(cut -d' ' -f1,2 "$SWARM_ST/ssh_host_ed25519_key.pub")" \
    | write_if_changed "$SWARM_KNOWN_HOSTS" 644
  {
    cat <<EOF
# incident-console configuration for the sandbox's single-node Docker Swarm (generated by sandbox/ctl; sandbox/swarm.sh).
# The target is the swarm manager; project_name is the stack, project_dir holds its stack file (docker-compose.yml).
operator = "sandbox"

[target]
engine = "swarm"
host = "$SWARM_ADDR"
$(login_toml "$SWARM_KNOWN_HOSTS")
project_name = "$SWARM_STACK"
project_dir = "$SWARM_DIR"
artifacts_dir = "$SWARM_ARTIFACTS_DIR"
connect_timeout = 10
keepalive_interval = 4
keepalive_count_max = 3
command_timeout = 600

[registry]
url = "$REGISTRY"

[[services]]
name = "backend"
image = "mr-dj-backend"
role = "backend"

[[services]]
name = "frontend"
image = "mr-dj-frontend"
role = "frontend"

EOF
    vps_health_toml health "$SWARM_ADDR"
    vps_commands_toml 60 "run by exec in a running task of the service"
    echo
    vps_capture_toml "$SWARM_STATE_DIR" "$SWARM_RELEASE_LOG" "$SWARM_ST/src" "$ST/swarm-env.sh" SANDBOX_SWARM_DATABASE_URL
  } | write_if_changed "$SWARM_CONFIG" 644
}

ensure_swarm() {
  local i
  mkdir -p "$SWARM_ST" "$SWARM_STATE_DIR" /opt/swarm
  swarm_start_engine
  swarm_build
  vps_database "$SWARM_DB"
  vps_wait_dockerd swarm "$SWARM_ST" "$SWARM_SOCK" "$SWARM_XROOT"
  vps_ensure_sshd "$SWARM_NAME" "$SWARM_ST" "$SWARM_ADDR" "$SWARM_SOCK"
  swarm_init
  if [ -f "$SWARM_ST/deployed" ] && [ "$(cat "$SWARM_OWNER_FILE" 2>/dev/null)" != "$SB" ]; then
    log "/opt/swarm was deployed by another checkout: redeploying this one's v2"
    rm -f "$SWARM_ST/deployed"
  fi
  if [ ! -f "$SWARM_ST/deployed" ] || [ -z "$(swarm_services)" ]; then
    log "swarm: deploying v2 as stack $SWARM_STACK ($SWARM_DIR)"
    swarm_deploy
  else   # after a restart of its engine the swarm starts the tasks again by itself
    for i in $(seq 1 20); do swarm_converged && break; sleep 0.5; done
    if ! swarm_converged; then
      log "swarm: stack $SWARM_STACK not converged ($(swarm_services | tr '\n' ' ')); deploying its stack file again (no redeploy)"
      swarm_stack_deploy
      for i in $(seq 1 120); do swarm_converged && break; sleep 0.5; done
      swarm_converged || die "swarm: stack $SWARM_STACK did not converge ($(swarm_services | tr '\n' ' '))"
    fi
  fi
  echo "$SB" | write_if_changed "$SWARM_OWNER_FILE" 644
  [ -f "$SWARM_RELEASE_LOG" ] || write_release_log "$(( $(date -u +%s) - 300 ))" "$SWARM_ARTIFACTS/SHA256SUMS.txt" "$SWARM_RELEASE_LOG"
  swarm_config
}
reset_swarm() {
  vps_reset_state "$SWARM_STATE_DIR" "$SWARM_ST/src" "$SWARM_DB"
  swarm_files_v2
  if ! { [ -f "$SWARM_ST/deployed" ] && swarm_runs_v2; }; then
    log "swarm: redeploying v2"
    swarm_stack_deploy_v2
  fi
  write_release_log "$(( $(date -u +%s) - 300 ))" "$SWARM_ARTIFACTS/SHA256SUMS.txt" "$SWARM_RELEASE_LOG"
  swarm_config
}
down_swarm() {
  vps_stop_sshd "$SWARM_NAME" "$SWARM_ST"
  vps_stop_dockerd swarm "$SWARM_ST" "$SWARM_SOCK" "$SWARM_XROOT"
}
status_swarm() { # line "swarm" (inside cmd_status: its line())
  local s
  if pid_alive "$SWARM_ST/dockerd.pid" && vps_docker_ok "$SWARM_SOCK" && vps_sshd_ok "$SWARM_ST" "$SWARM_ADDR" \
     && swarm_converged; then s=up; else s=down; fi
  line swarm $s
}
