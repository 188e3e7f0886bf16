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
metrics_log=${METRICS_LOG:-/tmp/requests.log}   # one "code route micros" line per request (container-local)

now_us() { # wall clock in microseconds (busybox date has no %N; adjtimex only reads here)
  adjtimex 2>/dev/null | awk '/tv_sec/ {s=$2} /tv_usec/ {u=$2} END {if (s) printf "%d%06d\n", s, u; else print 0}'
}
started=$(now_us)
route=other

respond() { # code reason body [content-type]
  body="$3
"
  if [ "$route" != metrics ]; then   # one short O_APPEND write: atomic between concurrent requests
    printf '%s %s %s\n' "$1" "$route" "$(( $(now_us) - started ))" >> "$metrics_log" 2>/dev/null
  fi
  printf 'HTTP/1.0 %s %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nCache-Control: no-store\r\nX-Release: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "${4:-application/json}" "${#body}" "$rel" "$body"
  exit 0
}

metrics() { # Prometheus text format from the request log
  awk -v rel="$rel" '
    BEGIN { n = split("0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5", le, " ") }
    NF == 3 {
      key = "code=\"" $1 "\",route=\"" $2 "\""; count[key]++
      s = $3 / 1000000; if (s < 0) s = 0
      r = $2; total[r]++; sum[r] += s
      for (i = 1; i <= n; i++) if (s <= le[i] + 0) bucket[r, i]++
    }
    END {
      print "# HELP app_http_requests_total HTTP requests answered, by status code and route."
      print "# TYPE app_http_requests_total counter"
      for (k in count) printf "app_http_requests_total{%s} %d\n", k, count[k]
      print "# HELP app_http_request_duration_seconds Time to answer a request."
      print "# TYPE app_http_request_duration_seconds histogram"
      for (r in total) {
        for (i = 1; i <= n; i++) printf "app_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %d\n", r, le[i], bucket[r, i] + 0
        printf "app_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %d\n", r, total[r]
        printf "app_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", r, sum[r]
        printf "app_http_request_duration_seconds_count{route=\"%s\"} %d\n", r, total[r]
      }
      print "# HELP app_release_info The release this process runs (always 1)."
      print "# TYPE app_release_info gauge"
      printf "app_release_info{release=\"%s\"} 1\n", rel
    }' "$metrics_log" 2>/dev/null
}

# A regression that health checks do not see (tests inject it): $state_dir/fault.<service>
# makes the service's pages answer 500 while /api/health stays green.
faulty() { [ -e "$state_dir/fault.$svc" ]; }

case "$path" in
  /metrics)
    route=metrics
    [ -e "$metrics_log" ] || : > "$metrics_log"
    respond 200 "OK" "$(metrics)" "text/plain; version=0.0.4"
    ;;
  /api/bookings)
    route=bookings
    if faulty || { [ -e /app/BROKEN ] && [ "${BOOKING_NOTES_ENABLED:-true}" != "false" ]; }; then
      respond 500 "Internal Server Error" "{\"status\":\"error\",\"service\":\"$svc\",\"version\":\"$rel\"}"
    fi
    respond 200 "OK" "{\"bookings\":[],\"service\":\"$svc\",\"version\":\"$rel\"}"
    ;;
  /api/health|/api/health/|/health)
    route=health
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
    route=index
    faulty && respond 500 "Internal Server Error" "{\"status\":\"error\",\"service\":\"$svc\",\"version\":\"$rel\"}"
    if [ "$svc" = frontend ]; then
      respond 200 "OK" "<!doctype html><title>Mister DJ</title><h1>Mister DJ</h1><p>release $rel</p>" "text/html; charset=utf-8"
    fi
    respond 200 "OK" "{\"service\":\"$svc\",\"version\":\"$rel\"}"
    ;;
  *)
    respond 404 "Not Found" "{\"status\":\"not_found\",\"path\":\"$path\"}"
    ;;
esac
