#!/bin/sh
# Mister DJ demo service: answers ONE HTTP request on stdin/stdout (spawned by socat).
# Release and service are baked into the image (/app/RELEASE, $SERVICE).
CR=$(printf '\r')
read -r method path proto || exit 0
while read -r line; do
  line=${line%"$CR"}
  [ -z "$line" ] && break
done
path=${path%%\?*}
svc=${SERVICE:-backend}
rel=$(cat /app/RELEASE 2>/dev/null || echo unknown)
state_dir=${STATE_DIR:-/opt/mr-dj/state}

respond() { # code reason body [content-type]
  body="$3
"
  printf 'HTTP/1.0 %s %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nCache-Control: no-store\r\nX-Release: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "${4:-application/json}" "${#body}" "$rel" "$body"
  exit 0
}

case "$path" in
  /api/health|/api/health/|/health)
    if [ -e "$state_dir/maintenance.on" ]; then
      respond 503 "Service Unavailable" "{\"status\":\"maintenance\",\"service\":\"$svc\",\"version\":\"$rel\"}"
    fi
    # The configuration hotfix for v2's bug: BOOKING_NOTES_ENABLED=false in backend/.env.
    if [ -e /app/BROKEN ] && [ "${BOOKING_NOTES_ENABLED:-true}" != "false" ]; then
      err=$(cat /app/BROKEN)
      respond 500 "Internal Server Error" "{\"status\":\"error\",\"service\":\"$svc\",\"version\":\"$rel\",\"error\":\"$err\"}"
    fi
    respond 200 "OK" "{\"status\":\"ok\",\"service\":\"$svc\",\"version\":\"$rel\"}"
    ;;
  /)
    if [ "$svc" = frontend ]; then
      respond 200 "OK" "<!doctype html><title>Mister DJ</title><h1>Mister DJ</h1><p>release $rel</p>" "text/html; charset=utf-8"
    fi
    respond 200 "OK" "{\"service\":\"$svc\",\"version\":\"$rel\"}"
    ;;
  *)
    respond 404 "Not Found" "{\"status\":\"not_found\",\"path\":\"$path\"}"
    ;;
esac
