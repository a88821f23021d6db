#!/bin/bash
# Creates the TEST-ONLY keys and certificates in this directory. Run once;
# the outputs are committed. Running it again makes new keys (RSA key
# generation is random), which changes every sample: regenerate the samples
# afterwards and commit both together. The private keys of ca1 and ca2 are
# thrown away: nothing needs them. The TLS part (tlsca, server, wrong) was
# added later; `tls` makes only that part (when tlsca.crt.pem is missing),
# which keeps the older keys and so the frames of the samples:
#   ./make-keys.sh            # everything (new keys throughout)
#   ./make-keys.sh tls        # only the TLS part
#
# `openssl ca -selfsign` is used instead of `openssl req -x509` because it
# takes fixed validity dates: the samples are dated 2026-11-02, so every
# certificate is valid from 2026-01-01.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/ca.cnf" <<CNF
[ ca ]
default_ca = selfsign
[ selfsign ]
dir = $tmp
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
policy = anything
unique_subject = no
[ anything ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
CNF

# selfsign NAME KEY SUBJECT SERIAL_HEX DIGEST EXTENSIONS ENDDATE
selfsign() {
  : > "$tmp/index.txt"
  echo "$4" > "$tmp/serial"
  openssl req -new -key "$2" -subj "$3" -out "$tmp/$1.csr"
  openssl ca -batch -config "$tmp/ca.cnf" -selfsign -keyfile "$2" \
    -in "$tmp/$1.csr" -out "$1.crt.pem" -notext -preserveDN -md "$5" \
    -extensions "$6" -startdate 20260101000000Z -enddate "$7"
  openssl x509 -in "$1.crt.pem" -outform DER -out "$1.crt.der"
}

# issue NAME KEY SUBJECT SERIAL_HEX CA_NAME CA_KEY EXTENSIONS ENDDATE
issue() {
  : > "$tmp/index.txt"
  echo "$4" > "$tmp/serial"
  openssl req -new -key "$2" -subj "$3" -out "$tmp/$1.csr"
  openssl ca -batch -config "$tmp/ca.cnf" -cert "$5.crt.pem" -keyfile "$6" \
    -in "$tmp/$1.csr" -out "$1.crt.pem" -notext -preserveDN -md sha256 \
    -extensions "$7" -startdate 20260101000000Z -enddate "$8"
  openssl x509 -in "$1.crt.pem" -outform DER -out "$1.crt.der"
}

# The TLS part: a test CA WITH its key (stored at index 1 by the ok
# scenario, so the module accepts the server), the server certificate it
# issues for `openssl s_server` on 127.0.0.1, and a "wrong" client key that
# belongs to no certificate here (signs the wrong-key sample's frame).
make_tls() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out tlsca.key.pem
  selfsign tlsca tlsca.key.pem \
    '/C=DE/O=attrace test/CN=attrace Test TLS CA' \
    5A17CA01 sha256 root 20460101000000Z
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server.key.pem
  issue server server.key.pem '/C=DE/O=attrace test/CN=127.0.0.1' \
    5E7E0001 tlsca tlsca.key.pem server 20360101000000Z
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out wrong.key.pem
}

if [ "${1:-}" = tls ]; then
  [ -f tlsca.crt.pem ] && { echo "tlsca.crt.pem exists: nothing to do" >&2; exit 0; }
  make_tls
  exit 0
fi

# Client (index 0): RSA 1024, self-signed, SHA-1 (the AN62-era legacy setup).
# The DN has a comma in O and a slash in CN on purpose: ^SBNR prints values
# unescaped, so a decoder must split such DNs structurally.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out client.key.pem
openssl pkcs8 -topk8 -nocrypt -in client.key.pem -outform DER -out client.key.der
selfsign client client.key.pem \
  '/C=DE/ST=Berlin/O=Example, Inc./OU=Field Test/CN=gateway\/0042' \
  4F2182FE sha1 client 20360101000000Z

# Server CAs (indexes 1 and 2): RSA 2048, SHA-256. CA 1's serial has its top
# bit set, so its DER INTEGER carries a leading 00 that ^SBNR keeps.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/ca1.key.pem"
selfsign ca1 "$tmp/ca1.key.pem" \
  '/C=DE/O=Example Trust Services/CN=Example Root CA R1' \
  F1F4565330802E0B sha256 root 20460101000000Z

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/ca2.key.pem"
selfsign ca2 "$tmp/ca2.key.pem" \
  '/C=US/ST=California/O=Sample Networks, LLC/CN=Sample TLS Root CA 2026' \
  1A2B3C4D5E6F sha256 root 20460101000000Z

make_tls
