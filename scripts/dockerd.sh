#!/usr/bin/env bash
# A private Docker engine for the container tests (see README "Containers"), with networking left alone:
# no bridge, no iptables, so containers run with --network host.
#
#   scripts/dockerd.sh start RUN_DIR [DATA_DIR]   start dockerd, wait until it answers, print DOCKER_HOST
#   scripts/dockerd.sh stop RUN_DIR               stop it by its PID, unmount what it left, remove RUN_DIR
#   scripts/dockerd.sh run RUN_DIR [DATA_DIR] -- CMD...   start, run CMD with DOCKER_HOST set, always stop
#
# RUN_DIR holds the socket, pid file and exec root (keep its path short: unix socket paths are limited to
# 108 bytes). DATA_DIR (default RUN_DIR/data) holds images and build cache; keep it between runs to reuse the
# base image and the build cache. One engine per DATA_DIR at a time.
set -euo pipefail

usage() { echo "usage: $0 start RUN_DIR [DATA_DIR] | stop RUN_DIR | run RUN_DIR [DATA_DIR] -- CMD..." >&2; exit 2; }

start() {
    local run_dir=$1 data_dir=${2:-$1/data}
    mkdir -p "$run_dir" "$data_dir"
    run_dir=$(cd "$run_dir" && pwd) data_dir=$(cd "$data_dir" && pwd)
    local sock="$run_dir/docker.sock" pidfile="$run_dir/dockerd.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "dockerd.sh: a dockerd (pid $(cat "$pidfile")) already runs for $run_dir; stop it first" >&2
        exit 1
    fi
    dockerd --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
        --storage-driver=overlay2 --data-root "$data_dir" --exec-root "$run_dir/exec" \
        --pidfile "$pidfile" -H "unix://$sock" >"$run_dir/dockerd.log" 2>&1 &
    local pid=$!
    # Ready when the API answers; give up (and clean up) if dockerd dies or takes more than 30 s.
    for _ in $(seq 300); do
        if DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then
            echo "unix://$sock"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "dockerd.sh: dockerd exited during start-up; its log ($run_dir/dockerd.log):" >&2
            tail -n 20 "$run_dir/dockerd.log" >&2
            cleanup_mounts "$run_dir"
            exit 1
        fi
        sleep 0.1
    done
    echo "dockerd.sh: dockerd did not answer on $sock within 30 s; stopping it" >&2
    stop "$run_dir"
    exit 1
}

cleanup_mounts() {
    local run_dir=$1
    # dockerd leaves its default network namespace bind-mounted in the exec root.
    if mountpoint -q "$run_dir/exec/netns/default" 2>/dev/null; then
        umount "$run_dir/exec/netns/default" || umount -l "$run_dir/exec/netns/default"
    fi
}

stop() {
    local run_dir=$1 pidfile="$1/dockerd.pid"
    [ -d "$run_dir" ] || return 0
    if [ -f "$pidfile" ]; then
        local pid
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            # dockerd stops its containers (10 s each at most) and its containerd before it exits.
            for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                echo "dockerd.sh: dockerd (pid $pid) still runs after 30 s; killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.5
            fi
        fi
    fi
    cleanup_mounts "$run_dir"
    # The data directory may live inside RUN_DIR (the default) and is removed with it; overlay mounts under it
    # are gone once dockerd has stopped.
    rm -rf "$run_dir"
}

[ $# -ge 2 ] || usage
command=$1
shift
case "$command" in
    start) start "$@" ;;
    stop) stop "$1" ;;
    run)
        run_dir=$1 data_dir=
        shift
        if [ "${1:-}" != "--" ]; then data_dir=$1; shift; fi
        [ "${1:-}" = "--" ] || usage
        shift
        trap 'stop "$run_dir"' EXIT
        DOCKER_HOST=$(start "$run_dir" "$data_dir")
        export DOCKER_HOST
        "$@"
        ;;
    *) usage ;;
esac
