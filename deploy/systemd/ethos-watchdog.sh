#!/bin/sh
# ethos gateway watchdog: run `ethos health`; after WATCHDOG_THRESHOLD consecutive failures,
# restart the gateway unit and start counting again. Run every 2 minutes by
# ethos-watchdog.timer. A gateway the operator stopped on purpose (inactive) is left alone.
#
# Environment:
#   ETHOS_HOME          the home to check (default /var/lib/ethos)
#   ETHOS_USER          when run as root, run the health check as this user (default: as is)
#   GATEWAY_UNIT        unit to restart (default ethos-gateway.service)
#   WATCHDOG_THRESHOLD  consecutive failures before a restart (default 3)
#   WATCHDOG_STATE      counter file (default $STATE_DIRECTORY/consecutive-failures)
#   HEALTH_TIMEOUT      seconds before a hung health check counts as a failure (default 60)
set -u

ETHOS_HOME="${ETHOS_HOME:-/var/lib/ethos}"
GATEWAY_UNIT="${GATEWAY_UNIT:-ethos-gateway.service}"
THRESHOLD="${WATCHDOG_THRESHOLD:-3}"
STATE="${WATCHDOG_STATE:-${STATE_DIRECTORY:-/var/lib/ethos-watchdog}/consecutive-failures}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-60}"
export ETHOS_HOME

case "$THRESHOLD" in
    ''|*[!0-9]*|0) echo "ethos-watchdog: WATCHDOG_THRESHOLD must be a positive integer" >&2; exit 2 ;;
esac

log() { echo "ethos-watchdog: $*" >&2; }

read_count() {
    n=$(cat "$STATE" 2>/dev/null || echo 0)
    case "$n" in ''|*[!0-9]*) n=0 ;; esac
    echo "$n"
}

write_count() {
    mkdir -p "$(dirname "$STATE")"
    tmp="$STATE.tmp.$$"
    echo "$1" > "$tmp" && mv -f "$tmp" "$STATE"
}

health() {
    set -- ethos --home "$ETHOS_HOME" health
    if command -v timeout >/dev/null 2>&1; then
        set -- timeout "$HEALTH_TIMEOUT" "$@"
    fi
    if [ -n "${ETHOS_USER:-}" ] && [ "$(id -u)" = 0 ]; then
        set -- runuser -u "$ETHOS_USER" -- "$@"
    fi
    "$@" >/dev/null 2>&1
}

state=$(systemctl is-active "$GATEWAY_UNIT" 2>/dev/null || true)
if [ "$state" = "inactive" ]; then
    log "$GATEWAY_UNIT is stopped; not watching it"
    write_count 0
    exit 0
fi

if health; then
    write_count 0
    exit 0
fi

count=$(( $(read_count) + 1 ))
log "ethos health failed ($count/$THRESHOLD consecutive)"
if [ "$count" -ge "$THRESHOLD" ]; then
    if systemctl restart "$GATEWAY_UNIT"; then
        log "restarted $GATEWAY_UNIT after $count consecutive health failures"
        write_count 0
    else
        log "restart of $GATEWAY_UNIT failed; will retry on the next run"
        write_count "$count"
    fi
    exit 1
fi
write_count "$count"
exit 1
