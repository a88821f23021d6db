#!/bin/bash
# Creates the TEST-ONLY Java keystores in this directory with Java's own
# keytool (needs a JDK/JRE with keytool; made with OpenJDK 17). Run once; the
# outputs are committed and are the fixtures of the tests (CI does not run
# keytool). Running it again makes new keys and changes the expected
# certificates, which the tests take from the exported files below.
#
# Two stores with the same layout, one per format Java writes:
#   client.jks    -storetype JKS   (the default keystore type before Java 9)
#   client.jceks  -storetype JCEKS
# Each holds three entries:
#   Module-Client  RSA 2048, private key entry whose KEY password differs
#                  from the store password
#   backup         RSA 1024, private key entry protected by the store password
#   Root "CA" ä    trusted certificate entry (ca1.crt.pem): a non-ASCII alias
#                  with quotes, for the escaped alias list of error messages
# keytool stores aliases in lower case ("module-client").
#
# Passwords (test only): store "St0re-Pass", key of Module-Client "K3y-Pass".
# The certificate of each private key entry is exported next to the store:
#   client.jks.module-client.crt.pem, client.jks.backup.crt.pem, and the
#   same for client.jceks.
set -euo pipefail
cd "$(dirname "$0")"
command -v keytool > /dev/null || { echo "make-keystores.sh needs keytool (Java)" >&2; exit 1; }

# Aliases are taken from argv in the locale's encoding.
export LC_ALL=C.UTF-8
export STOREPASS=St0re-Pass KEYPASS=K3y-Pass

for type in JKS JCEKS; do
  store=client.$(echo "$type" | tr 'A-Z' 'a-z')
  rm -f "$store"
  kt() { keytool "$@" -keystore "$store" -storetype "$type" -storepass:env STOREPASS; }
  kt -genkeypair -alias Module-Client -keypass:env KEYPASS -keyalg RSA -keysize 2048 \
     -sigalg SHA256withRSA -dname "CN=attrace test $type client, O=attrace test, C=DE" \
     -startdate 2026/01/01 -validity 3650
  kt -genkeypair -alias backup -keypass:env STOREPASS -keyalg RSA -keysize 1024 \
     -sigalg SHA256withRSA -dname "CN=attrace test $type backup, O=attrace test, C=DE" \
     -startdate 2026/01/01 -validity 3650
  kt -importcert -noprompt -alias 'Root "CA" ä' -file ca1.crt.pem
  for alias in module-client backup; do
    kt -exportcert -rfc -alias "$alias" -file "$store.$alias.crt.pem"
  done
done
