#!/usr/bin/env bash
# Builds dist/ektpd_VERSION_ARCH.deb with dpkg-deb from a staged `make install`.
#   scripts/build-deb.sh                                  (release build, as shipped)
#   CONFIG=debug SCRATCH=.build scripts/build-deb.sh       (the tests' build: scripts/check-package.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
version=$(grep -o 'ektpVersion = "[^"]*"' Sources/EKTPModel/Station.swift | cut -d'"' -f2)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
make install DESTDIR="$stage" PREFIX=/usr ${CONFIG:+CONFIG=$CONFIG} ${SCRATCH:+SCRATCH=$SCRATCH} >/dev/null
mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: ektpd
Version: $version
Architecture: $arch
Maintainer: ektpd developers <ektpd@localhost>
Depends: libc6, libstdc++6, libgcc-s1, libudev1, libusb-1.0-0, zlib1g, libcurl4, systemd
Recommends: hwdata
Section: admin
Priority: optional
Description: e-KTP enrolment station daemon
 Watches an enrolment station's USB kit (fingerprint, iris, camera, signature
 pad, card printers), keeps the recording server up, watches uplink, power and
 the centre's last pull, and reports to the fleet registry.
CONTROL
echo "/etc/ektpd/ektpd.yaml" > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  systemd-sysusers /usr/lib/sysusers.d/ektpd.conf || true
  chgrp ektp /etc/ektpd/ektpd.yaml || true
  udevadm control --reload 2>/dev/null || true
  systemctl daemon-reload 2>/dev/null || true
fi
POSTINST
chmod 0755 "$stage/DEBIAN/postinst"
mkdir -p dist
dpkg-deb --root-owner-group --build "$stage" "dist/ektpd_${version}_${arch}.deb" >/dev/null
echo "dist/ektpd_${version}_${arch}.deb"
