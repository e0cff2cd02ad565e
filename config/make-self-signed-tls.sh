#!/bin/sh
# Makes the certificate files the web config examples name, next to them in config/tls/, so that
#   promtool check web-config config/web-config.yml        (and web-config-mtls.yml)
# passes and `serve --web-config config/web-config.yml` starts, for a first try or a private network:
#
#   sh config/make-self-signed-tls.sh [NAME ...]
#
#   tls/server.crt, server.key        self-signed server certificate for localhost, 127.0.0.1, ::1,
#                                     this host's name and every NAME (a DNS name or an IP address);
#                                     Prometheus trusts it with tls_config.ca_file: server.crt
#   tls/client-ca.crt, client-ca.key  a CA for client certificates (web-config-mtls.yml trusts it)
#   tls/scraper.crt, scraper.key      a client certificate from that CA, for Prometheus (cert_file, key_file)
#
# Valid 825 days, EC P-256 keys readable by the owner only. Existing files are never overwritten:
# delete config/tls/ to make new ones. In production, use certificates from your own CA instead.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)/tls
days=825

command -v openssl >/dev/null 2>&1 || { echo "make-self-signed-tls: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
for file in server.crt server.key client-ca.crt client-ca.key scraper.crt scraper.key; do
    if [ -e "$dir/$file" ]; then
        echo "make-self-signed-tls: $dir/$file exists, nothing changed (delete $dir to make new certificates)" >&2
        exit 1
    fi
done

names="DNS:localhost,IP:127.0.0.1,IP:::1"
host=$(hostname 2>/dev/null || true)
[ -z "$host" ] || [ "$host" = localhost ] || names="$names,DNS:$host"
for name in "$@"; do
    case $name in
    "") ;;
    *:*) names="$names,IP:$name" ;;        # IPv6 (DNS names have no colon)
    *[!0-9.]*) names="$names,DNS:$name" ;;
    *) names="$names,IP:$name" ;;          # IPv4
    esac
done

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

# The server certificate is its own trust anchor (clients name it as their ca_file) but no CA: its key
# cannot vouch for anything else.
cat >"$work/server.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $names
subjectKeyIdentifier = hash
EOF
cat >"$work/client-ca.ext" <<EOF
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
cat >"$work/scraper.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
self_signed() { # name subject extensions
    key "$work/$1.key"
    openssl req -new -key "$work/$1.key" -subj "/CN=$2" -out "$work/$1.csr"
    openssl x509 -req -in "$work/$1.csr" -signkey "$work/$1.key" -days "$days" -sha256 \
        -extfile "$work/$1.ext" -out "$work/$1.crt" 2>/dev/null
}
self_signed server "commerce-exporter"
self_signed client-ca "commerce-exporter client CA"
key "$work/scraper.key"
openssl req -new -key "$work/scraper.key" -subj "/CN=prometheus" -out "$work/scraper.csr"
openssl x509 -req -in "$work/scraper.csr" -CA "$work/client-ca.crt" -CAkey "$work/client-ca.key" \
    -CAcreateserial -days "$days" -sha256 -extfile "$work/scraper.ext" -out "$work/scraper.crt" 2>/dev/null

for stem in server client-ca scraper; do
    chmod 644 "$work/$stem.crt"
    mv "$work/$stem.crt" "$work/$stem.key" "$dir/"
done
echo "wrote $dir: server.crt/.key ($names), client-ca.crt/.key, scraper.crt/.key"
