# Sourced by the scripts that need the local AWS emulator. `start_ministack DIR` starts ministack on a free loopback
# port in a process group of its own (objects and log under DIR), waits until it answers, and sets ministack_pid and
# ministack_port; `stop_ministack` stops the group by that id and reaps it. Needs $venv (scripts/venv.sh).
ministack_pid=""
ministack_port=""

start_ministack() {
  local dir=$1
  ministack_port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "== starting ministack on 127.0.0.1:$ministack_port"
  # It listens on every interface and opens MQTT and SFTP ports unless told otherwise.
  AUTH=true BIND_HOST=127.0.0.1 GATEWAY_PORT=$ministack_port IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 \
    S3_DATA_DIR="$dir/s3" LOG_LEVEL=WARNING \
    setsid "$venv/bin/ministack" > "$dir/ministack.log" 2>&1 &
  ministack_pid=$!
  local health="http://127.0.0.1:$ministack_port/_ministack/health"
  for _ in $(seq 300); do
    if ! kill -0 "$ministack_pid" 2>/dev/null; then
      echo "ministack exited before answering:"; cat "$dir/ministack.log"; return 1
    fi
    "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$health', timeout=1)" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "ministack did not answer on port $ministack_port:"; cat "$dir/ministack.log"; return 1
}

stop_ministack() {
  if [ -n "$ministack_pid" ] && kill -0 "$ministack_pid" 2>/dev/null; then
    kill -TERM -- "-$ministack_pid" 2>/dev/null || kill -TERM "$ministack_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$ministack_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$ministack_pid" 2>/dev/null || true
    wait "$ministack_pid" 2>/dev/null || true
  fi
  ministack_pid=""
}
