#!/usr/bin/env bash
# Makes the certificates of docker/compose.yaml's `cluster` profile in
# docker/certs/ (or the directory given): a private CA and, signed by it,
#
#   ca.crt                 the CA every side trusts (ca.key stays here)
#   tidb.crt, tidb.key     TiDB's MySQL port: tidb-a, tidb-b, tidb-c
#   nats.crt, nats.key     the NATS servers (clients and gateways):
#                          nats-a, nats-b, nats-c; also a client certificate,
#                          since a gateway connects to its peers as a client
#   respire.crt, respire.key
#                          respire's client certificate for NATS (NATS
#                          verifies clients: `verify: true`)
#
# Every server certificate also names localhost and 127.0.0.1. ECDSA P-256,
# valid for 825 days. For a local compose only: the keys are left readable
# by everyone so the containers' own users (respire runs as uid 10001) can
# read them from the bind mount; production keys come from a secret store.
#
#   bash docker/gen-certs.sh            # keeps existing files
#   bash docker/gen-certs.sh --force    # makes all of them again
set -euo pipefail

force=no
dir=""
for arg in "$@"; do
  case "$arg" in
    --force) force=yes ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) dir="$arg" ;;
  esac
done
dir="${dir:-$(cd "$(dirname "$0")" && pwd)/certs}"
command -v openssl >/dev/null || { echo "gen-certs: openssl is needed" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

if [[ -f ca.crt && $force == no ]]; then
  echo "gen-certs: $dir already has certificates (--force to make new ones)"
  exit 0
fi
rm -f ./*.crt ./*.key ./*.csr ./*.srl ./*.ext

days=825
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=respire compose CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt

# sign NAME "CN" EXTENDED_KEY_USAGE [SAN]
sign() {
  local name=$1 cn=$2 eku=$3 san=${4:-}
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$days" -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

local_names="DNS:localhost,IP:127.0.0.1"
sign tidb "tidb" serverAuth "DNS:tidb-a,DNS:tidb-b,DNS:tidb-c,$local_names"
sign nats "nats" serverAuth,clientAuth "DNS:nats-a,DNS:nats-b,DNS:nats-c,$local_names"
sign respire "respire" clientAuth

rm -f ca.srl
chmod 0644 ./*.crt ./*.key
chmod 0600 ca.key
for c in tidb nats respire; do
  openssl verify -CAfile ca.crt "$c.crt" >/dev/null
done
echo "gen-certs: wrote ca, tidb, nats and respire certificates to $dir"
