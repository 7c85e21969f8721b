#!/usr/bin/env bash
# Docker and VM plugins: a real Docker Engine (dockerd, started by the docker
# plugin's tests with the vfs driver in a temp dir), busybox-static for the
# test image (docker import of a tiny rootfs, no registry), libvirt headers +
# pkg-config so plain `go build ./...` compiles the libvirt cgo binding, the
# libvirt runtime (test:///default driver) and libvirtd for the daemon test.
set -euo pipefail
pkgs=(docker.io busybox-static libvirt-dev pkg-config libvirt0 libvirt-daemon libvirt-daemon-system libvirt-clients)
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
