#!/bin/sh
# Serve HTTP on $BIND_ADDR:$PORT (default 127.0.0.1), one forked /app/serve.sh per connection.
# The sandbox's fleet hosts and swarm set BIND_ADDR to their own loopback address (127.0.0.11, ...).
: "${PORT:?PORT not set}"
BIND_ADDR=${BIND_ADDR:-127.0.0.1}
echo "mr-dj $SERVICE $(cat /app/RELEASE) listening on $BIND_ADDR:$PORT"
exec socat -T 10 "TCP-LISTEN:$PORT,bind=$BIND_ADDR,reuseaddr,fork,backlog=64" EXEC:/app/serve.sh
