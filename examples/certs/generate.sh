#!/usr/bin/env bash
# Regenerates the TEST-ONLY certificates of examples/tls-sni.yaml. Never use them for anything
# but trying Pylon on your own machine: the keys are public, committed to the repository.
#
#   ca.pem              a throwaway self-signed CA (its key is deleted after signing)
#   api.pem, api.key    api.example.test, localhost and 127.0.0.1 (the listener's default cert)
#   www.pem, www.key    www.example.test (chosen by SNI)
#
# Run from this directory: bash generate.sh
set -euo pipefail
cd "$(dirname "$0")"
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/CN=Pylon examples CA (TEST ONLY)" -keyout ca.key -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() { # file name, common name, subjectAltName
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2 (TEST ONLY)" \
    -keyout "$1.key" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" -out "$1.pem" \
    -extfile <(printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$3")
  rm -f "$1.csr"
}
leaf api api.example.test "DNS:api.example.test,DNS:localhost,IP:127.0.0.1"
leaf www www.example.test "DNS:www.example.test"
rm -f ca.key ca.srl
chmod 0644 ./*.pem ./*.key
