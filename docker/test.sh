#!/usr/bin/env bash
# Builds docker/Dockerfile's runtime stage around a respire binary built
# here and runs it with podman, on a machine with no Docker engine and no
# registry to pull from:
#
#   bash docker/test.sh
#
# - the base image debian:bookworm-slim is made locally: debootstrap
#   --variant=minbase from the mirror apt uses (RESPIRE_DEBIAN_MIRROR to
#   override), trimmed as the slim image is, tarred once into the cache
#   (${XDG_CACHE_HOME:-~/.cache}/respire-image/) and `podman import`ed;
# - the binary: RESPIRE_BIN if set (tests/deploy/container.rs passes the test
#   build's), else `cargo build --release --bin respire`; stripped into the
#   build context with the host's CA bundle (RESPIRE_BINARY=prebuilt);
# - podman runs with its own storage in a temporary directory (vfs, runc,
#   cgroupfs, builds with --isolation chroot, lowered ulimits), removed at
#   the end, failure or not;
# - every connection is to 127.0.0.1: the container's port is published on
#   127.0.0.1 through slirp4netns's own port forwarder (no bridge, no
#   iptables rule), so the host's side of the traffic is loopback only; the
#   build runs no network step.
#
# Checks: PING and a SET/GET round trip; the server runs as uid 10001, not
# root; the image's HEALTHCHECK (`respire healthcheck`) passes; `podman
# stop -t 10` (SIGTERM) ends it with exit code 0 in under 10 s; the data in
# the /data volume is there for a new container; /healthz on the metrics
# port when the binary has --metrics-port. Needs root, podman, runc,
# slirp4netns, debootstrap, redis-cli, tar, strip (binutils) and python3.
# Prints "docker/test.sh: PASS" at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

t0=$SECONDS
say() { printf '[%3ds] %s\n' "$((SECONDS - t0))" "$*"; }
die() { printf 'docker/test.sh: FAIL: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, and podman with its own storage)"
for tool in podman runc slirp4netns debootstrap redis-cli tar strip python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install podman buildah runc slirp4netns debootstrap redis-tools binutils)"
done

cache=${RESPIRE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/respire-image}
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/respire-image.XXXXXX")
tag=localhost/respire-test:$$
volume=respire-test-data-$$
containers=()

podman_cmd=(podman --root "$work/storage" --runroot "$work/run" --storage-driver vfs
  --cgroup-manager cgroupfs --runtime runc --events-backend file)
podman_() { "${podman_cmd[@]}" "$@"; }
cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)) && ((${#containers[@]})); then
    for c in "${containers[@]}"; do
      echo "--- logs of $c" >&2
      podman_ logs "$c" 2>&1 | tail -n 40 >&2
    done
  fi
  for c in "${containers[@]}"; do podman_ rm -f -t 0 "$c" >/dev/null 2>&1; done
  podman_ volume rm -f "$volume" >/dev/null 2>&1
  podman_ rmi -f "$tag" >/dev/null 2>&1
  podman_ rmi -a -f >/dev/null 2>&1
  rm -rf "$work"
  if ((rc != 0)); then say "failed (exit $rc); containers, images and $work removed"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- the base image ---------------------------------------------------------
base_tar=$cache/debian-bookworm-slim.tar
if [[ ! -s $base_tar ]]; then
  mirror=${RESPIRE_DEBIAN_MIRROR:-}
  if [[ -z $mirror ]]; then
    # The first Debian archive apt uses (deb822 "URIs:" or one-line "deb").
    mirror=$({ cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
      awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}
           /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i ~ /\/debian\/?$/) { print $i; exit } }')
  fi
  [[ -n $mirror ]] || die "no Debian mirror found in /etc/apt/sources.list*; set RESPIRE_DEBIAN_MIRROR"
  say "debootstrap --variant=minbase bookworm from $mirror (once; cached in $cache)"
  root=$work/rootfs
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # What debian:*-slim leaves out: package caches and lists, documentation,
  # manual pages, translations.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  tar --numeric-owner -C "$root" -cf "$base_tar.part" .
  mv "$base_tar.part" "$base_tar"
  rm -rf "$root"
fi
say "importing $base_tar as debian:bookworm-slim"
podman_ import --change 'CMD ["bash"]' "$base_tar" docker.io/library/debian:bookworm-slim >/dev/null 2>&1

# --- the binary -------------------------------------------------------------
bin=${RESPIRE_BIN:-}
if [[ -z $bin ]]; then
  say "cargo build --release --bin respire"
  cargo build --release --bin respire
  bin=${CARGO_TARGET_DIR:-$repo/target}/release/respire
fi
[[ -x $bin ]] || die "no respire binary at $bin"
has_flag() { "$bin" --help 2>/dev/null | grep -q -- "$1"; }
has_command() { "$bin" --help 2>/dev/null | grep -qE "^  $1( |$)"; }

ctx=$work/context
mkdir -p "$ctx"
strip -o "$ctx/respire" "$bin"
if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
else
  : >"$ctx/ca-certificates.crt"
fi

# --- the image --------------------------------------------------------------
say "podman build --target runtime (binary: $bin)"
# --layers=false: one commit at the end (vfs copies the whole tree per
# commit). --force-rm=false: with --layers=false, podman 4.3 removes the
# `binary` stage's image (an alias of another stage's) twice and fails with
# "identifier is not an image"; this storage is thrown away anyway.
# --format docker: OCI images have no HEALTHCHECK.
podman_ build --isolation chroot --pull=never --layers=false --force-rm=false --format docker \
  --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
  -f "$repo/docker/Dockerfile" --build-arg RESPIRE_BINARY=prebuilt --target runtime \
  -t "$tag" "$ctx" >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; die "podman build failed"; }
size=$(podman_ image inspect --format '{{.Size}}' "$tag")
say "image size: $((size / 1000000)) MB ($size bytes; base $(($(stat -c %s "$base_tar") / 1000000)) MB, respire $(($(stat -c %s "$ctx/respire") / 1000000)) MB)"
config=$(podman_ image inspect --format '{{.Config.User}}|{{json .Config.Entrypoint}}|{{.Config.StopSignal}}|{{json .Config.Healthcheck.Test}}' "$tag")
[[ $config == '10001:10001|["respire"]|SIGTERM|["CMD","respire","healthcheck"]' ]] ||
  die "image config: user|entrypoint|stop signal|healthcheck is $config"

# --- running it -------------------------------------------------------------
port=$(free_port)
mport=$(free_port)
run() { # NAME: a container on the volume, published on 127.0.0.1 only
  containers+=("$1")
  podman_ run -d --name "$1" \
    --network slirp4netns:port_handler=slirp4netns \
    -p "127.0.0.1:$port:6379" -p "127.0.0.1:$mport:9121" \
    --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
    -v "$volume:/data" "$tag" >/dev/null 2>"$work/run.err" ||
    { cat "$work/run.err" >&2; die "podman run failed"; }
}
wait_pong() {
  local reply=""
  for _ in $(seq 1 150); do
    reply=$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null || true)
    [[ $reply == PONG ]] && return 0
    sleep 0.2
  done
  die "no PONG from 127.0.0.1:$port within 30 s (last reply: ${reply:-none})"
}
stop_cleanly() { # NAME: SIGTERM, exit code 0 within 10 s
  local start=$SECONDS status code
  podman_ stop -t 10 "$1" >/dev/null 2>&1
  local took=$((SECONDS - start))
  status=$(podman_ inspect --format '{{.State.Status}}' "$1")
  code=$(podman_ inspect --format '{{.State.ExitCode}}' "$1")
  [[ $status == exited && $code == 0 ]] || die "$1 after podman stop: $status, exit code $code (want 0)"
  ((took < 10)) || die "$1 took ${took}s to stop on SIGTERM (want < 10 s)"
  say "$1 stopped on SIGTERM in ${took}s, exit code 0"
}

# The image's HEALTHCHECK; podman does not enforce its timeout: bound it here.
# A binary without the subcommand fails the test, at the end, once the
# other checks have run.
healthcheck_missing=no
healthcheck() {
  if ! has_command healthcheck; then
    healthcheck_missing=yes
    say "(no \`healthcheck\` subcommand in this binary: HEALTHCHECK not checked)"
    return
  fi
  timeout 30 "${podman_cmd[@]}" healthcheck run "$1" >"$work/health.out" 2>&1 ||
    { cat "$work/health.out" >&2; die "the HEALTHCHECK (respire healthcheck) failed in $1"; }
  say "HEALTHCHECK passes"
}

first=respire-test-$$-1
say "podman run $first on 127.0.0.1:$port"
run "$first"
wait_pong
say "PING -> PONG"
value="kept across restarts $$ $RANDOM"
[[ $(redis-cli -h 127.0.0.1 -p "$port" SET docker:test "$value") == OK ]] || die "SET did not answer OK"
[[ $(redis-cli -h 127.0.0.1 -p "$port" GET docker:test) == "$value" ]] || die "GET did not return what SET stored"
say "SET/GET round trip"

uid=$(podman_ exec "$first" id -u)
pid1_uid=$(podman_ exec "$first" awk '/^Uid:/ {print $2}' /proc/1/status)
[[ $uid != 0 && $pid1_uid == 10001 ]] || die "runs as uid $pid1_uid (exec: $uid), want 10001"
say "runs as uid $pid1_uid (non-root)"
healthcheck "$first"

if has_flag --metrics-port; then
  for i in $(seq 1 25); do
    curl -fsS -o /dev/null "http://127.0.0.1:$mport/healthz" 2>/dev/null && break
    ((i < 25)) || die "GET /healthz on the metrics port (127.0.0.1:$mport) did not answer 200 within 5 s"
    sleep 0.2
  done
  say "GET /healthz on the metrics port: 200"
else
  say "(no --metrics-port in this binary: /healthz not checked)"
fi

stop_cleanly "$first"

second=respire-test-$$-2
say "podman run $second on the same volume"
run "$second"
wait_pong
got=$(redis-cli -h 127.0.0.1 -p "$port" GET docker:test)
[[ $got == "$value" ]] || die "after a new container on the same volume GET returned '$got'"
say "data in /data survived the restart"
healthcheck "$second"
stop_cleanly "$second"

if [[ $healthcheck_missing == yes ]]; then
  die "the respire binary has no \`healthcheck\` subcommand yet (issue 14 adds it; the image's HEALTHCHECK runs \`respire healthcheck\`)"
fi

say "docker/test.sh: PASS"
