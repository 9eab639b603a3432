#!/usr/bin/env bash
# A test PKI made with openssl (issue 14's TLS tests): the centre's CA, another CA, a server
# certificate for localhost/127.0.0.1, one for another name, an expired one, a renewed one, and a
# client CA with a station's client certificate. Usage: make-test-pki.sh DIR
set -euo pipefail
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
ca() {  # NAME CN
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/O=ektpd test/CN=$2" -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
# leaf NAME CA SAN EXT [STARTDATE ENDDATE]: signed with `openssl ca`, which can back-date (expired certificates).
leaf() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/O=ektpd test/CN=$1" -out "$1.csr" 2>/dev/null
  mkdir -p "ca-$2"; : > "ca-$2/index.txt"; [ -f "ca-$2/serial" ] || echo 1000 > "ca-$2/serial"
  cat > "$1.cnf" <<CNF
[ca]
default_ca = this
[this]
dir = ca-$2
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $2.crt
private_key = $2.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
organizationName = optional
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
$([ -n "$3" ] && echo "subjectAltName = $3")
extendedKeyUsage = $4
CNF
  local dates=(-days 825)
  [ $# -ge 6 ] && dates=(-startdate "$5" -enddate "$6")
  openssl ca -batch -config "$1.cnf" -extensions ext -in "$1.csr" -out "$1.crt" -notext "${dates[@]}" 2>/dev/null
  rm -f "$1.csr" "$1.cnf"
}
ca centre-ca "ektpd test centre CA"
ca other-ca "some other CA"
ca client-ca "ektpd test station CA"
leaf server centre-ca "DNS:localhost,IP:127.0.0.1" serverAuth
leaf renewed centre-ca "DNS:localhost,IP:127.0.0.1" serverAuth
leaf wrong-name centre-ca "DNS:registry.elsewhere.example" serverAuth
leaf expired centre-ca "DNS:localhost,IP:127.0.0.1" serverAuth 20250101000000Z 20251101000000Z
leaf untrusted other-ca "DNS:localhost,IP:127.0.0.1" serverAuth
leaf station client-ca "" clientAuth
# curl's pin form: sha256// and the base64 of the SHA-256 of the public key's DER.
for c in server renewed untrusted; do
  echo "sha256//$(openssl x509 -in $c.crt -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)" > $c.pin
done
