#!/usr/bin/env bash
# Builds the Unraid package into OUTDIR (default dist/): towerd-VERSION-x86_64-1.txz
# (towerd and every plugin for linux/amd64, -trimpath, rc.towerd, the default
# settings) and towerd.plg with the version and the package's MD5 filled in.
#   packaging/unraid/build.sh [OUTDIR]      (VERSION=… to override)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)
GO=${GO:-go}
version=${VERSION:-$(sed -n 's/^var Version = "\(.*\)"$/\1/p' "$repo/sdk/version.go")}
pkgver=${version//-/_}  # Slackware package versions cannot hold "-"
pkg=towerd-$pkgver-x86_64-1

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
inst=$stage/usr/local/emhttp/plugins/towerd
chmod 0755 "$stage"  # the archive root becomes / on install
mkdir -p "$inst/plugins.d" "$stage/etc/rc.d" "$stage/install"

cd "$repo"
flags=(-trimpath -ldflags "-s -w -X github.com/towerd/towerd/sdk.Version=$version")
export GOOS=linux GOARCH=amd64
# The Makefile's lean builds: static, no gRPC tracing, plugins without
# go-plugin's host side; vm needs cgo to load libvirt at run time.
CGO_PLUGINS=${CGO_PLUGINS:-vm}
PLUGIN_TAGS=${PLUGIN_TAGS:-towerd_plugin,grpcnotrace,libvirt_dlopen}
# One build per core at a time: linking ten binaries dominates.
jobs=$(nproc 2>/dev/null || echo 2)
build() { # OUT PKG [extra flags]
  local out=$1 pkg=$2
  shift 2
  "$GO" build "${flags[@]}" "$@" -o "$out" "$pkg"
}
CGO_ENABLED=0 build "$inst/towerd" ./cmd/towerd -tags grpcnotrace &
for main in plugins/*/main.go; do
  p=$(basename "$(dirname "$main")")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  cgo=0
  case " $CGO_PLUGINS " in *" $p "*) cgo=1 ;; esac
  CGO_ENABLED=$cgo build "$inst/plugins.d/$p" "./plugins/$p" -tags "$PLUGIN_TAGS" &
done
for j in $(jobs -p); do wait "$j"; done  # fails the script if any build failed
(cd "$inst/plugins.d" && sha256sum -- * >SHA256SUMS)

install -m 0755 "$here/rc.towerd" "$stage/etc/rc.d/rc.towerd"
install -m 0644 "$here/towerd.cfg" "$inst/towerd.cfg.default"
install -m 0644 "$here/slack-desc" "$stage/install/slack-desc"

# xz -1: within 12 % of the default level in size, seven times faster.
tar -C "$stage" --owner=0 --group=0 -cf - . | xz ${XZ_FLAGS:--T0 -1} >"$out/$pkg.txz"
md5=$(md5sum "$out/$pkg.txz" | cut -d' ' -f1)
sed -e "s/@VERSION@/$pkgver/" -e "s/@MD5@/$md5/" "$here/towerd.plg" >"$out/towerd.plg"
echo "$out/$pkg.txz"
echo "$out/towerd.plg"
