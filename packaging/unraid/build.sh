#!/usr/bin/env bash
# Builds the Unraid package into OUTDIR (default dist/): towerd-VERSION-x86_64-1.txz
# (towerd and every plugin for linux/amd64, -trimpath, rc.towerd, the array
# event hooks, the default settings) and towerd.plg with the version, the
# release location and the package's MD5 and SHA-256 filled in.
#   packaging/unraid/build.sh [OUTDIR]      (VERSION=…, RELEASE_URL=… to override)
#
# RELEASE_URL is the one place download addresses come from. It is laid out
# as GitHub releases are: the files of version V under RELEASE_URL/download/vV/,
# the newest towerd.plg at RELEASE_URL/latest/download/towerd.plg (where
# Unraid looks for updates). A mirror follows the same layout.
#
# The output is reproducible: the same tree gives the same bytes (fixed file
# order, owners, modes and times — SOURCE_DATE_EPOCH, default the last
# commit's time — and single-threaded xz, whose output does not depend on
# the number of cores).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)
GO=${GO:-go}
version=${VERSION:-$(sed -n 's/^var Version = "\(.*\)"$/\1/p' "$repo/sdk/version.go")}
pkgver=${version//-/_}  # Slackware package versions cannot hold "-"
pkg=towerd-$pkgver-x86_64-1
RELEASE_URL=${RELEASE_URL:-https://github.com/towerd/towerd/releases}
RELEASE_URL=${RELEASE_URL%/}
case "$RELEASE_URL" in
  http://*|https://*) ;;
  *) echo "RELEASE_URL must be an http(s) URL, not '$RELEASE_URL'" >&2; exit 1 ;;
esac
case "$RELEASE_URL" in
  *[\&\"\'\<\>\|\ ]*) echo "RELEASE_URL holds a character not allowed in the .plg: '$RELEASE_URL'" >&2; exit 1 ;;
esac
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
inst=$stage/usr/local/emhttp/plugins/towerd
chmod 0755 "$stage"  # the archive root becomes / on install
mkdir -p "$inst/plugins.d" "$stage/etc/rc.d" "$stage/install"

cd "$repo"
flags=(-trimpath -buildvcs=false -ldflags "-s -w -X github.com/towerd/towerd/sdk.Version=$version")
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
# The webGUI settings page (Settings › User Utilities › towerd), its
# helpers and the scripts its forms run through update.php.
mkdir -p "$inst/include" "$inst/scripts"
install -m 0644 "$here/webgui/towerd.page" "$inst/towerd.page"
install -m 0644 "$here/webgui/include/settings.php" "$here/webgui/include/api.php" "$inst/include/"
install -m 0755 "$here/webgui/scripts/apply" "$here/webgui/scripts/service" "$inst/scripts/"
# Array event hooks: emhttpd runs plugins/*/event/NAME; they act only when
# the user set ARRAY_HOOKS="yes" (by default the agent keeps running and
# reports the stopped array).
mkdir -p "$inst/event"
for e in disks_mounted unmounting_disks; do
  install -m 0755 "$here/event-hook" "$inst/event/$e"
done

# Same bytes every time: modes not from the umask, one time for every file,
# names sorted, numeric root owner, no atime/ctime.
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -exec touch -h -d "@$epoch" {} +
# xz -1: within 12 % of the default level in size, seven times faster.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
  --format=gnu -cf - . | xz ${XZ_FLAGS:--T1 -1} >"$out/$pkg.txz"
md5=$(md5sum "$out/$pkg.txz" | cut -d' ' -f1)
sha256=$(sha256sum "$out/$pkg.txz" | cut -d' ' -f1)
sed -e "s/@VERSION@/$pkgver/" -e "s/@MD5@/$md5/" -e "s/@SHA256@/$sha256/" -e "s/@TAG@/v$version/" \
  -e "s|@RELEASE_URL@|$RELEASE_URL|" "$here/towerd.plg" >"$out/towerd.plg"
echo "$out/$pkg.txz"
echo "$out/towerd.plg"
