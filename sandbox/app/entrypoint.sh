#!/bin/sh
# Serve HTTP on 127.0.0.1:$PORT, one forked /app/serve.sh per connection.
: "${PORT:?PORT not set}"
echo "mr-dj $SERVICE $(cat /app/RELEASE) listening on 127.0.0.1:$PORT"
exec socat -T 10 "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork,backlog=64" EXEC:/app/serve.sh
