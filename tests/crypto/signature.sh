#!/bin/bash
# Cross-check of `attrace encode` signatures against the openssl command.
#
#   signature.sh ATTRACE WORKDIR
#
# For RSA 1024 and 2048 keys with self-signed certificates (made here with
# `openssl`), and for SHA-1 and SHA-256: `attrace encode write --index 0`
# builds a frame; the script takes the signed region (offset 2 up to the
# signature unit) and the base64 signature out of it, and
# `openssl pkeyutl -verifyrecover` with the certificate's public key and
# PKCS#1 padding must give exactly `openssl dgst -shaX -binary` of the
# region (PROTOCOL.md section 4: PKCS#1 v1.5 on the raw digest, no
# DigestInfo). The frame's cert unit must be the certificate's DER and its
# key unit the key's PKCS#8 DER (`openssl pkcs8 -topk8 -nocrypt`).
# The same key from an encrypted PKCS#8 PEM (--passin env:PW), a PKCS#1
# PEM and a PKCS#12 keystore (--alias myalias --passin file:...) gives the
# same frame byte for byte; a wrong password fails with exit 3 without
# output and without echoing the password.
#
# Java keystores (KEYS = samples/keys, made by keytool with
# make-keystores.sh): the key of each entry of client.jks and client.jceks
# signs a frame that `openssl pkeyutl -verifyrecover` checks against the
# certificate keytool exported; the frame's certificate comes from the
# keystore. A wrong store password, a wrong key password, an unknown alias,
# a truncated store and a flipped byte fail with exit 3, no output and the
# exact message.
#
# Needs: bash, openssl (3.x), python3, cmp.

set -u

if [ $# -ne 3 ]; then
    echo "usage: $0 ATTRACE WORKDIR KEYS" >&2
    exit 2
fi
ATTRACE=$1
WORK=$2
KEYS=$3
IMEI=358240051111110

rm -rf "$WORK"
mkdir -p "$WORK" || exit 1
cd "$WORK" || exit 1
umask 077

pass=0
fail=0
ok() {
    pass=$((pass + 1))
    echo "ok    $1"
}
bad() {
    fail=$((fail + 1))
    echo "FAIL  $1"
    if [ $# -gt 1 ] && [ -n "$2" ]; then
        printf '%s\n' "$2" | head -n 40 | sed 's/^/      | /'
    fi
}

if ! command -v openssl > /dev/null; then
    echo "signature: the openssl command is missing"
    exit 1
fi

# Frame parser: writes NAME.region, NAME.sig (raw signature bytes), and
# the value of each unit as NAME.unitID; checks the framing on the way.
cat > split.py <<'PYEOF'
import base64, struct, sys
path, name = sys.argv[1], sys.argv[2]
f = open(path, "rb").read()
total, cmd, num = struct.unpack_from("<HHH", f, 0)
assert total == len(f), "TotalLen %d, file %d bytes" % (total, len(f))
pos, units = 6, []
while pos < len(f):
    plen, pid = struct.unpack_from("<HH", f, pos)
    assert plen >= 4 and pos + plen <= len(f), "unit at %d runs past the frame" % pos
    units.append((pos, pid, f[pos + 4:pos + plen]))
    pos += plen
assert len(units) == num, "ParamNum %d, %d units" % (num, len(units))
sig_at, sig_id, sig_val = units[-1]
assert sig_id == 3, "the last unit is not the signature"
assert sig_val.endswith(b"\0") and b"\0" not in sig_val[:-1]
sig = base64.b64decode(sig_val[:-1], validate=True)
open(name + ".region", "wb").write(f[2:sig_at])
open(name + ".sig", "wb").write(sig)
for _, pid, val in units:
    open("%s.unit%d" % (name, pid), "wb").write(val)
print(" ".join(str(pid) for _, pid, _ in units))
PYEOF

# check_frame NAME FRAME CERT_DER KEY_PKCS8_DER PUB_PEM DIGEST
check_frame() {
    local name=$1 frame=$2 certder=$3 keyder=$4 pub=$5 dg=$6 units msg
    if ! units=$(python3 split.py "$frame" "$name" 2>&1); then
        bad "$name: frame layout" "$units"
        return
    fi
    if [ "$units" != "1 2 5 4 3" ]; then
        bad "$name: units" "got ParamIds $units, expected 1 2 5 4 3 (index cert key imei signature)"
        return
    fi
    if ! cmp -s "$name.unit2" "$certder"; then
        bad "$name: cert unit is the certificate's DER"
        return
    fi
    if ! cmp -s "$name.unit5" "$keyder"; then
        bad "$name: key unit is the key's PKCS#8 DER"
        return
    fi
    if [ "$(printf '%s\0' "$IMEI" | od -An -tx1 | tr -d ' \n')" != "$(od -An -tx1 "$name.unit4" | tr -d ' \n')" ]; then
        bad "$name: IMEI unit"
        return
    fi
    openssl dgst "-$dg" -binary "$name.region" > "$name.want" || { bad "$name: openssl dgst"; return; }
    if ! msg=$(openssl pkeyutl -verifyrecover -pubin -inkey "$pub" \
                   -pkeyopt rsa_padding_mode:pkcs1 -in "$name.sig" -out "$name.got" 2>&1); then
        bad "$name: openssl pkeyutl -verifyrecover" "$msg"
        return
    fi
    if cmp -s "$name.got" "$name.want"; then
        ok "$name: verifyrecover gives the $dg digest of the region ($(stat -c %s "$name.region") bytes)"
    else
        bad "$name: verifyrecover gives the $dg digest of the region" \
            "recovered $(od -An -tx1 "$name.got" | tr -d '\n'), digest $(od -An -tx1 "$name.want" | tr -d '\n')"
    fi
}

for bits in 1024 2048; do
    k=rsa$bits
    if ! msg=$( { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$bits -out $k.key.pem &&
                  openssl req -x509 -new -key $k.key.pem -subj "/C=DE/O=Example, Inc./CN=client $bits" \
                      -days 3650 -sha256 -out $k.crt.pem &&
                  openssl x509 -in $k.crt.pem -outform DER -out $k.crt.der &&
                  openssl pkey -in $k.key.pem -pubout -out $k.pub.pem &&
                  openssl pkcs8 -topk8 -nocrypt -in $k.key.pem -outform DER -out $k.p8.der; } 2>&1); then
        bad "openssl: RSA $bits key and certificate" "$msg"
        continue
    fi
    for dg in sha1 sha256; do
        name=$k-$dg
        if ! msg=$("$ATTRACE" encode write --index 0 --cert $k.crt.pem --key $k.key.pem \
                       --imei $IMEI --sig $dg -o $name.bin 2>&1); then
            bad "$name: attrace encode" "$msg"
            continue
        fi
        check_frame "$name" $name.bin $k.crt.der $k.p8.der $k.pub.pem $dg
    done
done

# The default digest: SHA-1 for legacy (the default profile), SHA-256 for newer.
k=rsa2048
if [ -f $k.crt.der ]; then
    "$ATTRACE" encode write --index 0 --cert $k.crt.der --key $k.key.pem --imei $IMEI -o default-legacy.bin &&
        "$ATTRACE" encode write --index 0 --cert $k.crt.der --key $k.key.pem --imei $IMEI \
            --profile newer -o default-newer.bin
    if cmp -s default-legacy.bin rsa2048-sha1.bin && cmp -s default-newer.bin rsa2048-sha256.bin; then
        ok "default --sig: sha1 for legacy, sha256 for newer (PEM and DER certificate give the same frame)"
    else
        bad "default --sig: sha1 for legacy, sha256 for newer"
    fi
fi

# Other key containers: the same frame as from the plain PEM key.
k=rsa1024
if [ -f $k.crt.der ]; then
    # Encrypted PKCS#8 PEM, password from the environment.
    PW='correct horse battery staple'
    if PW=$PW openssl pkcs8 -topk8 -in $k.key.pem -v2 aes-256-cbc -passout env:PW -out $k.enc.pem 2>/dev/null &&
       grep -q 'BEGIN ENCRYPTED PRIVATE KEY' $k.enc.pem; then
        if msg=$(PW=$PW "$ATTRACE" encode write --index 0 --cert $k.crt.pem --key $k.enc.pem \
                     --passin env:PW --imei $IMEI --sig sha1 -o enc.bin 2>&1) &&
           cmp -s enc.bin $k-sha1.bin; then
            ok "encrypted PKCS#8 PEM with --passin env:PW: same frame"
        else
            bad "encrypted PKCS#8 PEM with --passin env:PW: same frame" "$msg"
        fi
        # A wrong password: exit 3, no output file, the password not echoed.
        PW=wrong-password-xyz "$ATTRACE" encode write --index 0 --cert $k.crt.pem --key $k.enc.pem \
            --passin env:PW --imei $IMEI -o wrongpw.bin > wrongpw.out 2> wrongpw.err
        rc=$?
        if [ $rc -eq 3 ] && [ ! -e wrongpw.bin ] && [ -s wrongpw.err ] &&
           ! grep -q 'wrong-password-xyz' wrongpw.err; then
            ok "wrong password: exit 3, no output, password not shown"
        else
            bad "wrong password: exit 3, no output, password not shown" "exit $rc: $(cat wrongpw.err)"
        fi
    else
        bad "openssl: encrypted PKCS#8 PEM"
    fi

    # PKCS#1 ("traditional") PEM.
    if openssl rsa -in $k.key.pem -traditional -out $k.rsa.pem 2>/dev/null &&
       grep -q 'BEGIN RSA PRIVATE KEY' $k.rsa.pem; then
        if msg=$("$ATTRACE" encode write --index 0 --cert $k.crt.pem --key $k.rsa.pem \
                     --imei $IMEI --sig sha1 -o pkcs1.bin 2>&1) && cmp -s pkcs1.bin $k-sha1.bin; then
            ok "PKCS#1 PEM key: same frame (the key unit is PKCS#8)"
        else
            bad "PKCS#1 PEM key: same frame" "$msg"
        fi
    else
        bad "openssl: PKCS#1 PEM"
    fi

    # PKCS#12 with a friendly name; password from a file. The keystore
    # also holds the certificate: without --cert, index 0 takes it from there.
    printf 'p12 secret\n' > p12.pass
    if openssl pkcs12 -export -name myalias -inkey $k.key.pem -in $k.crt.pem \
           -passout file:p12.pass -out $k.p12 2>/dev/null; then
        if msg=$("$ATTRACE" encode write --index 0 --cert $k.crt.pem --key $k.p12 --alias myalias \
                     --passin file:p12.pass --imei $IMEI --sig sha1 -o p12.bin 2>&1) &&
           cmp -s p12.bin $k-sha1.bin; then
            ok "PKCS#12 --alias myalias --passin file:: same frame"
        else
            bad "PKCS#12 --alias myalias --passin file:: same frame" "$msg"
        fi
        if msg=$("$ATTRACE" encode write --index 0 --key $k.p12 --alias myalias \
                     --passin file:p12.pass --imei $IMEI --sig sha1 -o p12nocert.bin 2>&1) &&
           cmp -s p12nocert.bin $k-sha1.bin; then
            ok "PKCS#12 without --cert: the keystore's certificate is written"
        else
            bad "PKCS#12 without --cert: the keystore's certificate is written" "$msg"
        fi
        "$ATTRACE" encode write --index 0 --key $k.p12 --alias otheralias --passin file:p12.pass \
            --imei $IMEI -o p12wrong.bin > /dev/null 2> p12wrong.err
        rc=$?
        if [ $rc -eq 3 ] && [ ! -e p12wrong.bin ] && grep -q 'otheralias' p12wrong.err; then
            ok "PKCS#12 with an unknown alias: exit 3, named in the message"
        else
            bad "PKCS#12 with an unknown alias: exit 3, named in the message" "exit $rc: $(cat p12wrong.err)"
        fi
    else
        bad "openssl: PKCS#12 keystore"
    fi

    # A server-certificate WRITE (index 1) and a DELETE, signed with the
    # client key: no key unit, the signature checks with the client's
    # public key.
    for op in write delete; do
        args=()
        [ $op = write ] && args=(--cert rsa2048.crt.pem)
        if msg=$("$ATTRACE" encode $op --index 1 "${args[@]}" --key $k.key.pem --imei $IMEI \
                     --sig sha256 -o $op-1.bin 2>&1) &&
           units=$(python3 split.py $op-1.bin $op-1 2>&1) &&
           openssl dgst -sha256 -binary $op-1.region > $op-1.want &&
           openssl pkeyutl -verifyrecover -pubin -inkey $k.pub.pem -pkeyopt rsa_padding_mode:pkcs1 \
               -in $op-1.sig -out $op-1.got 2>/dev/null &&
           cmp -s $op-1.got $op-1.want; then
            want="1 2 4 3"
            [ $op = delete ] && want="1 4 3"
            if [ "$units" = "$want" ]; then
                ok "$op of index 1 signed by the client key: units $units, signature checks"
            else
                bad "$op of index 1: units" "got $units, expected $want"
            fi
        else
            bad "$op of index 1 signed by the client key" "$msg $units"
        fi
    done
fi

# Java keystores made by keytool (samples/keys/make-keystores.sh).
export STOREPASS=St0re-Pass KEYPASS=K3y-Pass
for store in client.jks client.jceks; do
    ks=$KEYS/$store
    # ENTRY ALIAS-AS-TYPED KEYPASS-OPTION...
    for spec in "module-client MODULE-Client --keypass env:KEYPASS" "backup Backup"; do
        read -r entry alias kp <<< "$spec"
        name=$store-$entry
        if ! msg=$( { openssl x509 -in "$ks.$entry.crt.pem" -outform DER -out $name.crt.der &&
                      openssl x509 -in "$ks.$entry.crt.pem" -pubkey -noout > $name.pub.pem; } 2>&1); then
            bad "$name: openssl x509 of the exported certificate" "$msg"
            continue
        fi
        for dg in sha1 sha256; do
            # shellcheck disable=SC2086 # kp: option and value, or nothing
            if ! msg=$("$ATTRACE" encode write --index 0 --key "$ks" --alias "$alias" \
                           --passin env:STOREPASS $kp --imei $IMEI --sig $dg \
                           -o $name-$dg.bin 2>&1); then
                bad "$name: attrace encode" "$msg"
                continue
            fi
            # The key unit is the key of the exported certificate.
            python3 split.py $name-$dg.bin $name-$dg > /dev/null 2>&1 &&
                openssl pkey -inform DER -in $name-$dg.unit5 -pubout -out $name-$dg.keypub.pem 2>/dev/null
            if ! cmp -s $name-$dg.keypub.pem $name.pub.pem; then
                bad "$name-$dg: the key unit is the key of the exported certificate"
                continue
            fi
            check_frame "$name-$dg" $name-$dg.bin $name.crt.der $name-$dg.unit5 $name.pub.pem $dg
        done
    done

    # expect_refusal NAME WANT-MESSAGE ARGS...: exit 3, no file, exactly the message.
    expect_refusal() {
        local name=$1 want=$2 rc
        shift 2
        "$ATTRACE" encode write --index 0 "$@" --imei $IMEI -o $name.bin > $name.out 2> $name.err
        rc=$?
        if [ $rc -eq 3 ] && [ ! -e $name.bin ] && [ ! -s $name.out ] &&
           [ "$(cat $name.err)" = "$want" ]; then
            ok "$name: exit 3, no output, the message"
        else
            bad "$name: exit 3, no output, the message" \
                "exit $rc: $(cat $name.err)
want: $want"
        fi
    }
    type=JKS
    [ $store = client.jceks ] && type=JCEKS
    expect_refusal $store-wrong-storepass \
        "attrace encode: wrong store password for $ks, or the $type keystore is damaged (its integrity digest does not match)" \
        --key "$ks" --alias module-client --passin env:KEYPASS --keypass env:KEYPASS
    expect_refusal $store-wrong-keypass \
        "attrace encode: wrong key password for the entry \"module-client\" in $ks" \
        --key "$ks" --alias module-client --passin env:STOREPASS --keypass env:STOREPASS
    expect_refusal $store-no-keypass \
        "attrace encode: the key of the entry \"module-client\" in $ks has a password other than the store password: give it with --keypass" \
        --key "$ks" --alias module-client --passin env:STOREPASS
    expect_refusal $store-unknown-alias \
        "attrace encode: $ks has no key entry with the alias \"mykey\"; key entries: \"backup\", \"module-client\"; certificate entries (no key): \"root \\\"ca\\\" \\xc3\\xa4\"" \
        --key "$ks" --alias mykey --passin env:STOREPASS
    head -c 3000 "$ks" > cut-$store
    expect_refusal $store-truncated \
        "attrace encode: cut-$store: the $type keystore is truncated (entry 3 of 3, at offset $([ $type = JKS ] && echo 2208 || echo 2191), runs past the end of the file)" \
        --key cut-$store --passin env:STOREPASS
    python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[100] ^= 0xFF; open(sys.argv[2], "wb").write(d)' \
        "$ks" flip-$store
    expect_refusal $store-flipped \
        "attrace encode: wrong store password for flip-$store, or the $type keystore is damaged (its integrity digest does not match)" \
        --key flip-$store --passin env:STOREPASS
    if grep -q -e "$STOREPASS" -e "$KEYPASS" ./*.err; then
        bad "$store: no password in any message"
    fi
done

echo "signature: $pass passed, $fail failed"
[ $fail -eq 0 ]
