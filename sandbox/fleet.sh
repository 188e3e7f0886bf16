# shellcheck shell=bash
# Sourced by sandbox/ctl: a fleet of three "VPS" hosts beside the single-host sandbox (issue 14).
#
#   web1 127.0.0.11, web2 127.0.0.12, web3 127.0.0.13; each one has
#     its own sshd on <addr>:2222 (own config and host key in $ST/fleet/webN/, user deploy, the sandbox's
#       client key; SetEnv DOCKER_HOST=unix:///run/incident-sandbox-fleet-webN.sock),
#     its own dockerd (socket /run/incident-sandbox-fleet-webN.sock, data $ST/fleet/webN/docker (vfs),
#       exec-root /run/incident-sandbox-fleet-webN, containerd namespace incident-sandbox-fleet-webN),
#     its own project dir /opt/fleet/webN/mr-dj (docker-compose -p mr-dj) and artifacts /opt/fleet/webN/artifacts,
#     the demo app (v2) bound to <addr>:18081 (backend) and <addr>:18082 (frontend).
#   One database mrdj_fleet for the whole fleet (web1 has the "migrations" role).
#   Every host gets the same bundles (one release log for the fleet): a host's own address comes from
#   its project dir's .env (HOST_ADDR=<addr>, read by docker-compose), which no release carries.
#   Config $ST/fleet.toml, release log $ST/fleet-releases.toml, state dir $ST/fleet-console-state,
#   known_hosts $ST/fleet/known_hosts, secrets in $ST/fleet-env.sh (SANDBOX_FLEET_DATABASE_URL).
#
# The vps_* helpers (one "VPS" = its own dockerd + sshd) are shared with sandbox/swarm.sh.

FLEET_HOSTS=(web1 web2 web3)
FLEET_DB=mrdj_fleet
FLEET_PROJECT=mr-dj
FLEET_ST="$ST/fleet"
FLEET_ARTIFACTS="$FLEET_ST/artifacts"      # the pristine copy every host's artifacts dir is synced from
FLEET_KNOWN_HOSTS="$FLEET_ST/known_hosts"
FLEET_CONFIG="$ST/fleet.toml"
FLEET_RELEASE_LOG="$ST/fleet-releases.toml"
FLEET_STATE_DIR="$ST/fleet-console-state"
FLEET_OWNER_FILE=/opt/fleet/.sandbox-checkout  # which checkout deployed /opt/fleet (its env files carry its secrets)

fleet_addr() { case $1 in web1) echo 127.0.0.11 ;; web2) echo 127.0.0.12 ;; web3) echo 127.0.0.13 ;; *) die "no fleet host $1" ;; esac; }
fleet_sock() { echo "/run/incident-sandbox-fleet-$1.sock"; }
fleet_xroot() { echo "/run/incident-sandbox-fleet-$1"; }
fleet_project_dir() { echo "/opt/fleet/$1/mr-dj"; }
fleet_artifacts_dir() { echo "/opt/fleet/$1/artifacts"; }

# ---------------------------------------------------------------- a "VPS": its own dockerd and sshd
vps_docker_ok() { # socket
  DOCKER_HOST="unix://$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}
vps_start_dockerd() { # name dir socket exec-root: starts it unless its pid is alive (vps_wait_dockerd waits)
  local name=$1 dir=$2 sock=$3 xr=$4
  pid_alive "$dir/dockerd.pid" && return 0
  log "starting dockerd for $name (unix://$sock)"
  mkdir -p "$dir/docker" "$xr"
  rm -f "$dir/dockerd.pid"
  # the flags of ensure_dockerd, with this host's own socket, data, exec-root, pidfile and containerd namespace
  setsid dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --host "unix://$sock" --group docker \
    --data-root "$dir/docker" --exec-root "$xr" --pidfile "$dir/dockerd.pid" \
    --containerd-namespace "incident-sandbox-$name" --containerd-plugins-namespace "incident-sandbox-$name-plugins" \
    --userland-proxy=false --log-level=warn \
    </dev/null >>"$LOG/dockerd-$name.log" 2>&1 9>&- &
}
vps_wait_dockerd() { # name dir socket exec-root
  local i
  for i in $(seq 1 120); do vps_docker_ok "$3" && return 0; sleep 0.5; done
  if pid_alive "$2/dockerd.pid"; then
    log "dockerd for $1 alive but not answering; restarting it"
    vps_stop_dockerd "$1" "$2" "$3" "$4"
    vps_start_dockerd "$@"
    for i in $(seq 1 120); do vps_docker_ok "$3" && return 0; sleep 0.5; done
  fi
  tail -n 20 "$LOG/dockerd-$1.log" >&2 || true
  die "dockerd for $1 did not come up (see $LOG/dockerd-$1.log)"
}
vps_stop_dockerd() { # name dir socket exec-root: dockerd, then its containerd and shims
  local p left
  stop_pid "dockerd $1" "$2/dockerd.pid" 45
  left=$(vps_leftover_pids "$4")
  if [ -n "$left" ]; then
    log "killing leftover containerd processes of $1: $left"
    for p in $left; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for p in $(vps_leftover_pids "$4"); do kill -KILL "$p" 2>/dev/null || true; done
  fi
  rm -f "$3"
  umount "$4/netns/default" 2>/dev/null || true
}
vps_leftover_pids() { # exec-root -> pids of processes still using it (containerd, shims)
  local d
  for d in /proc/[0-9]*; do
    { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | grep -q -- "$1/" && basename "$d"
  done
  return 0
}

vps_sshd_ok() { # dir addr
  pid_alive "$1/sshd.pid" && (exec 3<>"/dev/tcp/$2/$SSH_PORT") 2>/dev/null
}
vps_ensure_sshd() { # name dir addr socket: the main sshd's settings, this host's address, key, pid file and engine
  local name=$1 dir=$2 addr=$3 sock=$4 i
  [ -f "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "incident-sandbox-$name" -f "$dir/ssh_host_ed25519_key"
  chmod 600 "$dir/ssh_host_ed25519_key"
  sed -e '/^ListenAddress /d' -e "s|^Port .*|Port $SSH_PORT\nListenAddress $addr|" \
      -e "s|^HostKey .*|HostKey $dir/ssh_host_ed25519_key|" -e "s|^PidFile .*|PidFile $dir/sshd.pid|" \
      -e "s|^SetEnv .*|SetEnv DOCKER_HOST=unix://$sock|" \
      -e "1s|.*|# incident-sandbox sshd for $name ($addr): the main sandbox sshd's settings, its own engine|" \
      "$ST/ssh/sshd_config" | write_if_changed "$dir/sshd_config" 600
  /usr/sbin/sshd -t -f "$dir/sshd_config" || die "sshd config for $name invalid"
  vps_sshd_ok "$dir" "$addr" && return 0
  if pid_alive "$dir/sshd.pid"; then kill "$(pid_of "$dir/sshd.pid")" 2>/dev/null || true; sleep 0.5; fi
  log "starting sshd for $name ($addr:$SSH_PORT)"
  rm -f "$dir/sshd.pid"
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$LOG/sshd-$name.log" </dev/null 9>&-
  for i in $(seq 1 40); do vps_sshd_ok "$dir" "$addr" && return 0; sleep 0.25; done
  die "sshd for $name did not come up (see $LOG/sshd-$name.log)"
}
vps_stop_sshd() { # name dir: the listener, then the sessions it forked
  local p kids k i alive
  pid_alive "$2/sshd.pid" || { rm -f "$2/sshd.pid"; return 0; }
  p=$(pid_of "$2/sshd.pid")
  kids=$(descendants "$p" | tr -s ' \n' ' ')
  stop_pid "sshd $1" "$2/sshd.pid" 10
  [ -n "${kids// /}" ] || return 0
  for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
  for i in $(seq 1 20); do
    alive=0
    for k in $kids; do running "$k" && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.25
  done
  for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
}

vps_wait_version() { # release addr [tries]: both services answer as release on addr:18081/18082
  local i
  for i in $(seq 1 "${3:-120}"); do
    if [ "$(http_version "http://$2:18081/api/health" | cut -d' ' -f2)" = "$1" ] &&
       [ "$(http_version "http://$2:18082/api/health" | cut -d' ' -f2)" = "$1" ]; then return 0; fi
    sleep 0.25
  done
  return 1
}
vps_sync_dir() { # src dst: dst := copy of src's files (only rewrites what differs), owned by deploy
  local f dst
  mkdir -p "$2"
  for f in "$2"/* "$2"/.[!.]*; do
    [ -e "$f" ] || continue
    [ -e "$1/$(basename "$f")" ] || rm -rf "$f"
  done
  for f in "$1"/*; do
    dst="$2/$(basename "$f")"
    if [ ! -f "$dst" ] || [ "$(stat -c %s "$f")" != "$(stat -c %s "$dst")" ] || ! cmp -s "$f" "$dst"; then
      cp -f "$f" "$dst"
    fi
    chmod --reference="$f" "$dst"
  done
  chown -R "$DEPLOY_USER:$DEPLOY_USER" "$2"
}
vps_has_image() { # docker_host service release: the engine has the registry's image (by digest, not only by tag)
  local digest
  digest=$(sed -n "s/^digest_$2=//p" "$ST/build/$3/meta")
  [ -n "$digest" ] || return 1
  DOCKER_HOST=$1 timeout 30 docker image inspect -f '{{join .RepoDigests " "}}' "$REGISTRY/mr-dj-$2:$3" 2>/dev/null \
    | tr ' ' '\n' | grep -qx "$REGISTRY/mr-dj-$2@$digest"
}
vps_bundles() { # dir artifacts stack_fn env_fn: artifacts := v1/v2 bundles (built in dir/build/<release>, their stack file
  # and env files written by stack_fn and env_fn) + the single host's image tarballs + SHA256SUMS (fleet.sh, swarm.sh)
  local st=$1 artifacts=$2 stack_fn=$3 env_fn=$4 rel b
  rm -rf "$artifacts"; mkdir -p "$artifacts"
  for rel in "${RELEASES[@]}"; do
    b="$st/build/$rel"
    write_compose_bundle "$b" "$rel"
    "$stack_fn" "$rel" > "$b/docker-compose.yml"
    "$env_fn" "$b" "$rel"
    tar -C "$b" --owner=0 --group=0 --numeric-owner -czf "$artifacts/$rel-compose.tar.gz" \
      docker-compose.yml backend/.env frontend/.env docs/operations/deployment-rollback.md \
      $(cd "$b" && ls migrations/*.sql)
    cp -f "$ST/artifacts/$rel-images.tar" "$artifacts/$rel-images.tar"
    chmod 600 "$artifacts/$rel-compose.tar.gz" "$artifacts/$rel-images.tar"
  done
  (cd "$artifacts" && sha256sum v1-compose.tar.gz v1-images.tar v2-compose.tar.gz v2-images.tar > SHA256SUMS.txt)
  chmod 644 "$artifacts/SHA256SUMS.txt"
}
vps_database() { # name: its own database at migration 002 (v2)
  pg_admin -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname='$1'" | grep -q 1 \
    || pg_admin -d postgres -c "CREATE DATABASE $1 OWNER mrdj"
  PGOPTIONS="-c client_min_messages=warning" PGAPP_DB=$1 pg_app -c "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz DEFAULT now())"
  PGAPP_DB=$1 db_apply 001_init
  PGAPP_DB=$1 db_apply 002_add_booking_notes
}
vps_reset_state() { # state_dir source_dir database: what reset puts back besides the hosts (fleet.sh, swarm.sh)
  mkdir -p "$1" "$2/artifacts"
  find "$2/artifacts" -mindepth 1 -delete   # captures made since: the release log is back to v1/v2
  vps_database "$3"
}
vps_run_parallel() { # function args...: function ARG for every arg at once; fails if one failed
  local a pids=() rc=0 p
  local fn=$1; shift
  for a in "$@"; do "$fn" "$a" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

# ---------------------------------------------------------------- a "VPS"'s config: the parts fleet.toml and swarm.toml share
vps_health_toml() { # table addr: [[table]] entries for the demo's backend and frontend health on addr
  local svc
  for svc in backend frontend; do
    printf '[[%s]]\nname = "%s"\nurl = "http://%s:%s/api/health"\nexpected_status = 200\ntimeout = 5\ninterval = 2\nversion_key = "version"\nexpect = { status = "ok" }\n\n' \
      "$1" "$svc" "$2" "$(port_for "$svc")"
  done
}
vps_commands_toml() { # health_wait_seconds [comment]: [commands] (the demo app's, run by exec) and [thresholds]
  echo "[commands]"
  if [ -n "${2:-}" ]; then echo "# $2"; fi
  cat <<EOF
maintenance = true
migrations = true
maintenance_on = ["npm", "run", "maintenance:on"]
maintenance_off = ["npm", "run", "maintenance:off"]
migrate_rollback = ["npm", "run", "migrate:rollback", "--", "--to", "{migration}"]
migrate_status = ["npm", "run", "migrate:status"]
migration_down_sql = ["cat", "/app/migrations/{migration}.down.sql"]
smoke_tests = [["npm", "run", "smoke:test", "--prefix", "backend"], ["npm", "run", "smoke:test", "--prefix", "frontend"]]
migration_order = "before_down"
service_command_mode = "exec"

[thresholds]
impact_window_minutes = 30
validation_window_minutes = 15
ttr_target_minutes = 15
monitor_minutes = 1
health_wait_seconds = $1
EOF
}
vps_capture_toml() { # state_dir release_log source_dir env_sh database_env [note]: [paths], [capture] (the demo's
  # bundle layout, its database URL in database_env, exported by env_sh) and [prerequisites]
  cat <<EOF
[paths]
state_dir = "$1"
release_log = "$2"

[capture]
# source $4 first ($5)${6:-}
source_dir = "$3"
compose_file = "docker-compose.yml"
env_files = ["backend/.env", "frontend/.env"]
extra_files = ["docs/operations/deployment-rollback.md"]
migration_dirs = ["migrations"]
local_artifacts_dir = "$3/artifacts"
database_url = "env:$5"

[prerequisites]
backup_check_command = ["sh", "-c", "test -f $ST/backups/latest.verified"]
alerts_check_url = "http://127.0.0.1:$MOCK_PORT/alerts/unacknowledged"
EOF
}

# ---------------------------------------------------------------- fleet bundles (the same for every host)
fleet_compose_yaml() { # release
  cat <<EOF
# Mister DJ $1 for the fleet (compose file format 2.4, docker-compose v1). Every host runs this same
# file; the host's own address is HOST_ADDR in the .env beside it (the host's, not the release's).
version: "2.4"
services:
  mr-dj-backend:
    image: $REGISTRY/mr-dj-backend:$1
    network_mode: host
    init: true
    restart: unless-stopped
    env_file: backend/.env
    environment:
      BIND_ADDR: \${HOST_ADDR:?set HOST_ADDR (this host's own address) in .env}
      SMOKE_BACKEND_URL: http://\${HOST_ADDR}:18081/api/health
      SMOKE_FRONTEND_URL: http://\${HOST_ADDR}:18082/api/health
    volumes:
      - ./state:/opt/mr-dj/state
  mr-dj-frontend:
    image: $REGISTRY/mr-dj-frontend:$1
    network_mode: host
    init: true
    restart: unless-stopped
    env_file: frontend/.env
    environment:
      BIND_ADDR: \${HOST_ADDR:?set HOST_ADDR (this host's own address) in .env}
      API_URL: http://\${HOST_ADDR}:18081
    volumes:
      - ./state:/opt/mr-dj/state
EOF
}
fleet_env_files() { # dir release: the backend's env file, on the fleet's database (the frontend's stays the single host's)
  printf 'RELEASE=%s\nNODE_ENV=production\nDATABASE_URL=%s\n' "$2" "$(db_url "$FLEET_DB")" > "$1/backend/.env"
}
fleet_build() { # $FLEET_ARTIFACTS := v1/v2 bundles for the fleet + the single host's image tarballs + SHA256SUMS
  local fp
  fp=$( (cat "$ST/build/done"; declare -f fleet_compose_yaml fleet_env_files vps_bundles fleet_build fleet_source; db_url "$FLEET_DB") | sha256sum | cut -d' ' -f1)
  [ "$(cat "$FLEET_ST/built" 2>/dev/null)" = "$fp" ] && return 0
  log "writing the fleet's release bundles"
  vps_bundles "$FLEET_ST" "$FLEET_ARTIFACTS" fleet_compose_yaml fleet_env_files
  fleet_source
  rm -f "$FLEET_ST"/deployed-* "$FLEET_RELEASE_LOG"
  echo "$fp" > "$FLEET_ST/built"
}

fleet_source() { # [capture] source_dir of fleet.toml: the single host's "v3" working tree, the fleet's compose file
  local src="$FLEET_ST/src"
  rm -rf "$src"; cp -a "$ST/src" "$src"
  fleet_compose_yaml v3 | sed -e "s|^    image: $REGISTRY/mr-dj-\(.*\):v3\$|    build: ./\1\n    image: mr-dj-\1:latest|" \
    -e '1s|.*|# Mister DJ working tree for the fleet (capture source). Build, then tag <registry>/<image>:<tag>.|' \
    > "$src/docker-compose.yml"
  fleet_env_files "$src" v3
  printf '# the working tree'"'"'s own address (each fleet host has its own .env; no release carries one)\nHOST_ADDR=127.0.0.1\n' > "$src/.env"
  mkdir -p "$src/artifacts"
}

# ---------------------------------------------------------------- one fleet host
fleet_compose() { # host args...
  local n=$1 pd; pd=$(fleet_project_dir "$1"); shift
  (cd "$pd" && runuser -u "$DEPLOY_USER" -- env DOCKER_HOST="unix://$(fleet_sock "$n")" \
     HOME="$(getent passwd "$DEPLOY_USER" | cut -d: -f6)" docker-compose -p "$FLEET_PROJECT" "$@")
}
fleet_docker() { # host args...
  local n=$1; shift
  DOCKER_HOST="unix://$(fleet_sock "$n")" timeout 120 docker "$@"
}
fleet_stack_running() { # host: both services have a running container
  local svc id
  for svc in mr-dj-backend mr-dj-frontend; do
    id=$(fleet_docker "$1" ps -q --filter "label=com.docker.compose.project=$FLEET_PROJECT" \
          --filter "label=com.docker.compose.service=$svc" --filter status=running 2>/dev/null | head -n1)
    [ -n "$id" ] || return 1
  done
}
vps_answers_v2() { # addr: v2 as captured answers there (its backend's health fails: v2's bug; no hotfix, no maintenance)
  [ "$(http_version "http://$1:18081/api/health")" = "500 v2" ] && [ "$(http_version "http://$1:18082/api/health")" = "200 v2" ]
}
fleet_runs_v2() { # host: v2 as captured answers on its address and its containers are v2's images
  local n=$1 images
  vps_answers_v2 "$(fleet_addr "$n")" || return 1
  images=$(fleet_docker "$n" ps --filter "label=com.docker.compose.project=$FLEET_PROJECT" --format '{{.Image}}' 2>/dev/null | sort | tr '\n' ' ')
  [ "$images" = "$REGISTRY/mr-dj-backend:v2 $REGISTRY/mr-dj-frontend:v2 " ]
}
fleet_files_v2() { # host: project dir := v2 bundle + this host's .env (state/ kept); no lock, maintenance, faults
  local n=$1 pd ad
  pd=$(fleet_project_dir "$n"); ad=$(fleet_artifacts_dir "$n")
  mkdir -p "$pd/state"
  rm -rf "$pd/.incident-console.lock"
  rm -f "$pd/state/maintenance.on" "$pd"/state/fault.*
  vps_sync_dir "$FLEET_ARTIFACTS" "$ad"
  find "$pd" -mindepth 1 -maxdepth 1 ! -name state -exec rm -rf {} +
  chown "$DEPLOY_USER:$DEPLOY_USER" "/opt/fleet/$n" "$pd" "$pd/state"
  runuser -u "$DEPLOY_USER" -- tar -xzf "$ad/v2-compose.tar.gz" -C "$pd"
  printf '# %s: this host'"'"'s own address (part of the host, not of any release; docker-compose reads it)\nHOST_ADDR=%s\n' \
    "$n" "$(fleet_addr "$n")" > "$pd/.env"
  chown "$DEPLOY_USER:$DEPLOY_USER" "$pd/.env"
}
fleet_deploy_host() { # host: v2 deployed there
  fleet_files_v2 "$1"
  fleet_containers_v2 "$1"
}
fleet_containers_v2() { # host: v2's containers (images from the local registry, so they carry their digests)
  local n=$1 svc
  for svc in backend frontend; do
    vps_has_image "unix://$(fleet_sock "$n")" "$svc" v2 \
      || fleet_docker "$n" pull -q "$REGISTRY/mr-dj-$svc:v2" >/dev/null || die "$n: docker pull mr-dj-$svc:v2 failed"
  done
  fleet_docker "$n" ps -aq --filter "label=com.docker.compose.project=$FLEET_PROJECT" --filter "label=com.docker.compose.oneoff=True" \
    | xargs -r env DOCKER_HOST="unix://$(fleet_sock "$n")" docker rm -f >/dev/null
  fleet_compose "$n" up -d --remove-orphans >>"$LOG/compose-fleet-$n.log" 2>&1 \
    || { tail -n 20 "$LOG/compose-fleet-$n.log" >&2; die "$n: docker-compose up failed"; }
  vps_wait_version v2 "$(fleet_addr "$n")" || die "$n: the stack did not answer as v2 on $(fleet_addr "$n"):18081/18082"
  touch "$FLEET_ST/deployed-$n"
}
fleet_reset_host() { # host: files back to v2 always (cheap); containers only where they differ
  local n=$1
  fleet_files_v2 "$n"
  [ -f "$FLEET_ST/deployed-$n" ] && fleet_runs_v2 "$n" && return 0
  log "fleet $n: redeploying v2"
  fleet_containers_v2 "$n"
}
fleet_start_engines() { local n; for n in "${FLEET_HOSTS[@]}"; do vps_start_dockerd "fleet-$n" "$FLEET_ST/$n" "$(fleet_sock "$n")" "$(fleet_xroot "$n")"; done; }
fleet_ensure_host() { # host: engine, sshd, stack (deployed once; afterwards only restarted)
  local n=$1 i
  mkdir -p "$FLEET_ST/$n"
  vps_wait_dockerd "fleet-$n" "$FLEET_ST/$n" "$(fleet_sock "$n")" "$(fleet_xroot "$n")"
  vps_ensure_sshd "fleet-$n" "$FLEET_ST/$n" "$(fleet_addr "$n")" "$(fleet_sock "$n")"
  if [ ! -f "$FLEET_ST/deployed-$n" ]; then
    log "fleet $n: deploying v2 to $(fleet_project_dir "$n")"
    fleet_deploy_host "$n"
  elif ! fleet_stack_running "$n"; then
    for i in $(seq 1 20); do fleet_stack_running "$n" && return 0; sleep 0.25; done   # restart policy
    log "fleet $n: starting stack $FLEET_PROJECT (no redeploy)"
    fleet_compose "$n" up -d >>"$LOG/compose-fleet-$n.log" 2>&1 || die "$n: docker-compose up failed"
  fi
}

# ---------------------------------------------------------------- the fleet
fleet_known_hosts() {
  local n
  for n in "${FLEET_HOSTS[@]}"; do
    printf '[%s]:%s %s\n' "$(fleet_addr "$n")" "$SSH_PORT" "$(cut -d' ' -f1,2 "$FLEET_ST/$n/ssh_host_ed25519_key.pub")"
  done | write_if_changed "$FLEET_KNOWN_HOSTS" 644
}
fleet_hosts_toml() {
  local n roles
  for n in "${FLEET_HOSTS[@]}"; do
    if [ "$n" = web1 ]; then roles='["web", "migrations"]'; else roles='["web"]'; fi
    printf '[[hosts]]\nname = "%s"\nhost = "%s"\nroles = %s\nproject_dir = "%s"\nartifacts_dir = "%s"\n\n' \
      "$n" "$(fleet_addr "$n")" "$roles" "$(fleet_project_dir "$n")" "$(fleet_artifacts_dir "$n")"
    vps_health_toml hosts.health "$(fleet_addr "$n")"
  done
}
fleet_config() {
  write_db_env "$ST/fleet-env.sh" SANDBOX_FLEET_DATABASE_URL "$FLEET_DB" "the fleet's database (sandbox/fleet.sh)"
  cat <<EOF | write_if_changed "$FLEET_CONFIG" 644
# incident-console configuration for the sandbox's fleet (generated by sandbox/ctl; sandbox/fleet.sh).
# Three hosts run the same compose project mr-dj (v2 deployed), one database ($FLEET_DB) migrated from web1.
# [target] holds the defaults every host inherits; each [[hosts]] has its own address, dirs and health.
operator = "sandbox"

[target]
$(login_toml "$FLEET_KNOWN_HOSTS")
project_name = "$FLEET_PROJECT"
compose_command = "docker-compose"
connect_timeout = 10
keepalive_interval = 4
keepalive_count_max = 3
command_timeout = 600

$(fleet_hosts_toml)
[fleet]
# not web1: the migrations host goes last (no host may run the newer code on the older schema)
canary = "web2"
batch_size = 2
canary_pause_seconds = 5
gate_interval_seconds = 1

[registry]
url = "$REGISTRY"

[[services]]
name = "mr-dj-backend"
image = "mr-dj-backend"
role = "backend"

[[services]]
name = "mr-dj-frontend"
image = "mr-dj-frontend"
role = "frontend"

$(vps_commands_toml 30)

$(vps_capture_toml "$FLEET_STATE_DIR" "$FLEET_RELEASE_LOG" "$FLEET_ST/src" "$ST/fleet-env.sh" SANDBOX_FLEET_DATABASE_URL "; one bundle for every host")
EOF
}

ensure_fleet() {
  local n
  mkdir -p "$FLEET_ST" "$FLEET_STATE_DIR" /opt/fleet
  fleet_start_engines                       # all at once; each host waits for its own below
  fleet_build
  vps_database "$FLEET_DB"
  if [ -n "$(ls "$FLEET_ST"/deployed-* 2>/dev/null)" ] && [ "$(cat "$FLEET_OWNER_FILE" 2>/dev/null)" != "$SB" ]; then
    log "/opt/fleet was deployed by another checkout: redeploying this one's v2"
    rm -f "$FLEET_ST"/deployed-*
  fi
  vps_run_parallel fleet_ensure_host "${FLEET_HOSTS[@]}" || die "the fleet did not come up"
  echo "$SB" | write_if_changed "$FLEET_OWNER_FILE" 644
  fleet_known_hosts
  [ -f "$FLEET_RELEASE_LOG" ] || write_release_log "$(( $(date -u +%s) - 300 ))" "$FLEET_ARTIFACTS/SHA256SUMS.txt" "$FLEET_RELEASE_LOG"
  fleet_config
}
reset_fleet() {
  vps_reset_state "$FLEET_STATE_DIR" "$FLEET_ST/src" "$FLEET_DB"
  vps_run_parallel fleet_reset_host "${FLEET_HOSTS[@]}" || die "the fleet did not go back to v2"
  write_release_log "$(( $(date -u +%s) - 300 ))" "$FLEET_ARTIFACTS/SHA256SUMS.txt" "$FLEET_RELEASE_LOG"
  fleet_config
}
down_fleet() {
  local n
  for n in "${FLEET_HOSTS[@]}"; do
    vps_stop_sshd "fleet-$n" "$FLEET_ST/$n"
    vps_stop_dockerd "fleet-$n" "$FLEET_ST/$n" "$(fleet_sock "$n")" "$(fleet_xroot "$n")"
  done
}
status_fleet() { # lines fleet-web1..3 (inside cmd_status: its line())
  local n s
  for n in "${FLEET_HOSTS[@]}"; do
    if pid_alive "$FLEET_ST/$n/dockerd.pid" && vps_docker_ok "$(fleet_sock "$n")" && vps_sshd_ok "$FLEET_ST/$n" "$(fleet_addr "$n")" \
       && fleet_stack_running "$n"; then s=up; else s=down; fi
    line "fleet-$n" $s
  done
}
