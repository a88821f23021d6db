#!/bin/bash
# Cross-checks certificate summaries and ^SBNR lines against the openssl
# command line (ctest openssl_certs).
#
#   bash certs.sh CERTSUM WORKDIR
#
# Builds real-world certificate shapes with `openssl req`/`openssl x509`
# (RSA and EC, SHA-1/224/256/384/512, MD5, RSA-PSS, self-signed and issued,
# serials with the high bit set, tiny, 20-byte and negative, DNs with ',',
# '/', quotes, UTF-8, BMPString and multi-valued RDNs), and compares every
# field attrace-test-certsum prints with what openssl says:
#   size        DER length (openssl x509 -outform DER)
#   serial      raw INTEGER content bytes (offset/length from asn1parse, the
#               bytes read with od), cross-checked with `x509 -serial`
#   thumbprint  `x509 -fingerprint -sha1` without colons
#   expiry      `x509 -enddate`, valid_from `x509 -startdate`
#   issuer/subject  `-nameopt sep_multiline,utf8,sname`: one attribute a
#               line, values unescaped and converted to UTF-8; the lines are
#               joined with '/' and " + " (multi-valued RDN) becomes '+'
#   sig_alg     `x509 -text`'s algorithm mapped to the Microsoft name here
#   key         `x509 -text`'s public key algorithm and size
# and the ^SBNR lines (legacy and newer profile) rebuilt from those values.
# Prints "certs: N passed, M failed"; exits non-zero on any failure.
set -u -o pipefail

if [ $# -ne 2 ]; then
    echo "usage: certs.sh CERTSUM WORKDIR" >&2
    exit 2
fi
CERTSUM=$1
WORK=$2
command -v openssl >/dev/null || { echo "certs: openssl not found" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

passed=0
failed=0
bad() {
    failed=$((failed + 1))
    echo "FAIL $*" >&2
}
expect() { # what want got
    if [ "$2" == "$3" ]; then
        passed=$((passed + 1))
    else
        bad "$1:"$'\n'"  want [$2]"$'\n'"  got  [$3]"
    fi
}

# openssl, quiet unless it fails.
ossl() {
    local out
    if ! out=$(openssl "$@" 2>&1); then
        echo "openssl $*:"$'\n'"$out" >&2
        return 1
    fi
}

# Request configurations: the string mask decides the DN string types.
printf '[req]\ndistinguished_name = dn\nstring_mask = utf8only\n[dn]\n' >utf8.cnf
printf '[req]\ndistinguished_name = dn\nstring_mask = pkix\n[dn]\n' >pkix.cnf

ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.key || exit 1
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key || exit 1
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.key || exit 1
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key || exit 1

# ------------------------------------------------------------------
# Expected values from openssl's own output
# ------------------------------------------------------------------

# One-line DN: FILE -subject|-issuer
dn_of() {
    openssl x509 -in "$1" -noout "$2" -nameopt sep_multiline,utf8,sname |
        tail -n +2 | sed -e 's/^    //' -e 's/ + /+/g' |
        while IFS= read -r l; do printf '/%s' "$l"; done
}

# Raw content bytes of the serial INTEGER (the first INTEGER at depth 2:
# the version's INTEGER sits at depth 3 inside [0]).
raw_serial() { # DERFILE
    local line off hl len
    line=$(openssl asn1parse -inform DER -in "$1" | grep -a -m1 'd=2 .*prim: INTEGER') || return 1
    off=$(sed -E 's/^ *([0-9]+):.*/\1/' <<<"$line")
    hl=$(sed -E 's/.*hl= *([0-9]+).*/\1/' <<<"$line")
    len=$(sed -E 's/.* l= *([0-9]+) .*/\1/' <<<"$line")
    od -An -v -tx1 -j $((off + hl)) -N "$len" "$1" | tr -d ' \n' | tr a-f A-F
}

# "notAfter=Nov  2 15:48:01 2036 GMT" -> "2036,11,02"
ymd() {
    awk '{ sub(/^[^=]*=/, ""); n = split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", m, " ");
           mo = 0; for (i = 1; i <= n; i++) if (m[i] == $1) mo = i;
           printf "%d,%02d,%02d", $4, mo, $2 }'
}

# OpenSSL's signature algorithm names -> the module's (Microsoft's).
ms_sig() {
    case $1 in
    md5WithRSAEncryption) echo md5RSA ;;
    sha1WithRSAEncryption) echo sha1RSA ;;
    sha224WithRSAEncryption) echo sha224RSA ;;
    sha256WithRSAEncryption) echo sha256RSA ;;
    sha384WithRSAEncryption) echo sha384RSA ;;
    sha512WithRSAEncryption) echo sha512RSA ;;
    ecdsa-with-SHA1) echo sha1ECDSA ;;
    ecdsa-with-SHA224) echo sha224ECDSA ;;
    ecdsa-with-SHA256) echo sha256ECDSA ;;
    ecdsa-with-SHA384) echo sha384ECDSA ;;
    ecdsa-with-SHA512) echo sha512ECDSA ;;
    rsassaPss) echo RSASSA-PSS ;;
    *) echo "unmapped:$1" ;;
    esac
}

key_of() { # PEMFILE -> "RSA 2048"
    local text alg bits
    text=$(openssl x509 -in "$1" -noout -text) || return 1
    alg=$(sed -n -E 's/^ *Public Key Algorithm: *//p' <<<"$text" | head -1)
    bits=$(sed -n -E 's/^ *Public-Key: \(([0-9]+) bit\).*/\1/p' <<<"$text" | head -1)
    case $alg in
    rsaEncryption) alg=RSA ;;
    id-ecPublicKey) alg=EC ;;
    esac
    echo "$alg $bits"
}

field() { sed -n "s/^$1=//p" <<<"$2"; }

# ------------------------------------------------------------------
# One certificate: every field, PEM and DER input, both profiles
# ------------------------------------------------------------------

# check NAME WANT_SIG WANT_SERIAL: WANT_* are what the generation asked for
# (so a shape openssl did not produce as intended is noticed too).
check() {
    local name=$1 want_sig=$2 want_serial=$3 pem=$1.pem der=$1.der
    ossl x509 -in "$pem" -outform DER -out "$der" || { bad "$name: no DER"; return; }

    local size serial thumb expiry from subject issuer sigtext sig key oserial
    size=$(wc -c <"$der" | tr -d ' ')
    serial=$(raw_serial "$der")
    thumb=$(openssl x509 -in "$pem" -noout -fingerprint -sha1 | sed -e 's/^.*=//' -e 's/://g')
    expiry=$(openssl x509 -in "$pem" -noout -enddate | ymd)
    from=$(openssl x509 -in "$pem" -noout -startdate | ymd)
    subject=$(dn_of "$pem" -subject)
    issuer=$(dn_of "$pem" -issuer)
    sigtext=$(openssl x509 -in "$pem" -noout -text | sed -n -E 's/^ *Signature Algorithm: *([^ ]+).*/\1/p' | head -1)
    sig=$(ms_sig "$sigtext")
    key=$(key_of "$pem")

    # The expectations themselves: openssl agrees with the intent.
    expect "$name: intended signature" "$want_sig" "$sig"
    expect "$name: intended serial" "$want_serial" "$serial"
    oserial=$(openssl x509 -in "$pem" -noout -serial | sed 's/^serial=//')
    if [ "${oserial#-}" == "$oserial" ]; then
        # x509 -serial prints the magnitude: the DER content minus a sign byte.
        local mag=$serial
        [ ${#mag} -gt 2 ] && [ "${mag:0:2}" == 00 ] && mag=${mag:2}
        expect "$name: asn1parse serial vs x509 -serial" "$oserial" "$mag"
    fi

    local out
    if ! out=$("$CERTSUM" "$pem" 7 newer); then
        bad "$name: certsum failed on PEM"
        return
    fi
    expect "$name size" "$size" "$(field size "$out")"
    expect "$name issuer" "$issuer" "$(field issuer "$out")"
    expect "$name subject" "$subject" "$(field subject "$out")"
    expect "$name serial" "$serial" "$(field serial "$out")"
    expect "$name sig_alg" "$sig" "$(field sig_alg "$out")"
    expect "$name thumb_alg" "sha1" "$(field thumb_alg "$out")"
    expect "$name thumbprint" "$thumb" "$(field thumbprint "$out")"
    expect "$name expiry" "$expiry" "$(field expiry "$out")"
    expect "$name valid_from" "$from" "$(field valid_from "$out")"
    expect "$name key" "$key" "$(field key "$out")"
    expect "$name truncated" "" "$(field truncated "$out")"

    local line="size: \"$size\", issuer: \"$issuer\", serial number: \"$serial\", subject: \"$subject\", signature: \"$sig\", thumbprint algorithm: \"sha1\", thumbprint: \"$thumb\""
    expect "$name ^SBNR newer" "^SBNR: 7, $line, expiry date: \"$expiry\"" \
        "$(grep -a '^\^SBNR: ' <<<"$out")"

    local outd
    if ! outd=$("$CERTSUM" "$der" 0 legacy); then
        bad "$name: certsum failed on DER"
        return
    fi
    expect "$name ^SBNR legacy (DER input)" "^SBNR: 0, $line" "$(grep -a '^\^SBNR: ' <<<"$outd")"
    expect "$name DER and PEM summaries" "$(grep -av '^\^SBNR' <<<"$out")" \
        "$(grep -av '^\^SBNR' <<<"$outd")"
}

# selfsigned NAME KEY SUBJ SERIAL DIGEST CONF [more req options]
selfsigned() {
    local name=$1 key=$2 subj=$3 serial=$4 md=$5 conf=$6
    shift 6
    ossl req -config "$conf" -x509 -key "$key" -out "$name.pem" -subj "$subj" -utf8 \
        -set_serial "$serial" -days 3650 "-$md" "$@"
}

# issued NAME KEY SUBJ SERIAL DIGEST CA
issued() {
    local name=$1 key=$2 subj=$3 serial=$4 md=$5 ca=$6
    ossl req -config utf8.cnf -new -key "$key" -out "$name.csr" -subj "$subj" -utf8 &&
        ossl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" \
            -set_serial "$serial" -days 4000 "-$md" -out "$name.pem"
}

# Roots. The RSA one has the DN and serial of PROTOCOL.md's example.
cp rsa2048.key root-rsa.key
selfsigned root-rsa rsa2048.key \
    "/C=DE/ST=Berlin/L=Berlin/O=departmentX/OU=DE/CN=firstname surname" \
    0x4F2182FE sha1 utf8.cnf && check root-rsa sha1RSA 4F2182FE
cp p384.key root-ec.key
selfsigned root-ec p384.key \
    "/C=DE/O=Example, Inc./OU=R&D\/Labs/CN=Example Root CA (P-384)" \
    0x8F0123456789ABCDEF sha384 utf8.cnf && check root-ec sha384ECDSA 008F0123456789ABCDEF

# Leaves: issuer differs from subject.
issued leaf-rsa-sha256 rsa1024.key \
    "/C=DE/L=München/O=Müller & Söhne GmbH/CN=device-01.example.com" 1 sha256 root-rsa &&
    check leaf-rsa-sha256 sha256RSA 01
issued leaf-ec-sha256 p256.key \
    "/CN=Straße\/Weg, Haus \"A\"/O=Ex, Inc./emailAddress=dev@example.com" \
    0xF1F4565330802E0B sha256 root-ec && check leaf-ec-sha256 sha256ECDSA 00F1F4565330802E0B
issued leaf-ec-by-rsa p256.key "/C=FR/O=Société Générale/CN=a,b\/c" 0x80 sha384 root-rsa &&
    check leaf-ec-by-rsa sha384RSA 0080
issued leaf-rsa-by-ec rsa1024.key "/CN=rsa by ec" 0x7F sha512 root-ec &&
    check leaf-rsa-by-ec sha512ECDSA 7F

# Self-signed shapes.
selfsigned rsa-sha512 rsa1024.key "/CN=twenty-byte serial" \
    0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF sha512 utf8.cnf &&
    check rsa-sha512 sha512RSA 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
selfsigned rsa-sha224 rsa1024.key "/CN=sha224" 2 sha224 utf8.cnf && check rsa-sha224 sha224RSA 02
selfsigned ec-sha1 p256.key "/CN=zero serial" 0 sha1 utf8.cnf && check ec-sha1 sha1ECDSA 00
selfsigned rsa-md5 rsa1024.key "/CN=md5" 0x0102 md5 utf8.cnf && check rsa-md5 md5RSA 0102
selfsigned rsa-pss rsa2048.key "/CN=pss" 3 sha256 utf8.cnf -sigopt rsa_padding_mode:pss &&
    check rsa-pss RSASSA-PSS 03
selfsigned negative rsa1024.key "/CN=negative serial" -5 sha256 utf8.cnf &&
    check negative sha256RSA FB
selfsigned multi-rdn p256.key \
    "/DC=com/DC=example/CN=a+UID=b/serialNumber=1234/title=Dr./GN=Jo/SN=Doe/street=Main St. 1/postalCode=10115" \
    0x1234 sha256 utf8.cnf -multivalue-rdn && check multi-rdn sha256ECDSA 1234
# pkix mask: non-ASCII values become BMPString.
selfsigned bmp rsa1024.key "/CN=Жуков/O=Müller/OU=plain" 0x0A sha256 pkix.cnf &&
    check bmp sha256RSA 0A
n_bmp=$(openssl asn1parse -in bmp.pem | grep -ac 'BMPSTRING')
expect "bmp: the DN holds BMPStrings" 4 "$n_bmp"

# ------------------------------------------------------------------
# File shapes
# ------------------------------------------------------------------

summary_of() { "$CERTSUM" "$1" 1 legacy | grep -av '^\^SBNR'; }
ref=$(summary_of leaf-ec-sha256.pem)

# openssl x509 -text output: a text dump before the PEM block.
ossl x509 -in leaf-ec-sha256.pem -text -out with-text.pem
expect "PEM after a text dump" "$ref" "$(summary_of with-text.pem)"
# A bundle: the first certificate counts.
cat leaf-ec-sha256.pem root-ec.pem >bundle.pem
expect "PEM bundle: first certificate" "$ref" "$(summary_of bundle.pem)"
# CRLF line ends.
sed 's/$/\r/' leaf-ec-sha256.pem >crlf.pem
expect "PEM with CRLF" "$ref" "$(summary_of crlf.pem)"
# TRUSTED CERTIFICATE: trust settings after the certificate are not part of it.
ossl x509 -in leaf-ec-sha256.pem -addtrust serverAuth -trustout -out trusted.pem
if grep -q 'BEGIN TRUSTED CERTIFICATE' trusted.pem; then
    expect "TRUSTED CERTIFICATE" "$ref" "$(summary_of trusted.pem)"
else
    bad "TRUSTED CERTIFICATE: openssl did not write one"
fi

# Files that are not a certificate: exit status 1 and a message.
refuse() { # what file
    local err rc
    err=$("$CERTSUM" "$2" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -eq 1 ] && [ -n "$err" ]; then
        passed=$((passed + 1))
    else
        bad "$1: exit $rc, message [$err]"
    fi
}
refuse "private key" rsa1024.key
refuse "CSR" leaf-ec-by-rsa.csr
: >empty.der
refuse "empty file" empty.der
head -c 300 /dev/urandom | tr '\000\060' '\001\001' >garbage.bin
refuse "garbage" garbage.bin
{ printf '\x30\x82\x01\x00'; head -c 256 /dev/zero | tr '\0' 'A'; } >seq-garbage.der
refuse "garbage after a SEQUENCE header" seq-garbage.der
printf -- '-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n' >fake.pem
refuse "CERTIFICATE block without a certificate" fake.pem
cp leaf-ec-sha256.der trailing.der && printf '\0' >>trailing.der
refuse "DER with a trailing byte" trailing.der
head -c 200 leaf-ec-sha256.der >truncated.der
refuse "truncated DER" truncated.der
refuse "missing file" does-not-exist.pem

echo "certs: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
