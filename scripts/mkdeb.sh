#!/usr/bin/env bash
# mkdeb.sh ROOT OUTDIR: packs a staged install (make install DESTDIR=ROOT with
# PREFIX=/usr SYSCONFDIR=/etc, as `make deb` runs it) into
# OUTDIR/herald_VERSION_ARCH.deb with dpkg-deb, from the hand-written control
# files in packaging/deb/. What it adds to the staged tree is what Debian
# policy asks of a binary package: a stripped binary, man pages gzipped -9n,
# /usr/share/doc/herald/{copyright,changelog.Debian.gz}, DEBIAN/conffiles
# (every file under /etc), DEBIAN/md5sums, and Depends computed by
# dpkg-shlibdeps from the libraries the binary links. The version is the
# changelog's, whose upstream part must be the binary's version.
set -euo pipefail
ROOT=$(cd "$1" && pwd) OUT=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
PKG=$SRC/packaging/deb
die() { echo "mkdeb: $*" >&2; exit 1; }

[ -x "$ROOT/usr/bin/herald" ] || die "'$ROOT/usr/bin/herald' is missing (make install first)"
VERSION=$(sed -n '1s/^herald (\([^)]*\)).*/\1/p' "$PKG/changelog")
UPSTREAM=$(sed -n 's/^#define HD_VERSION "\([^"]*\)".*/\1/p' "$SRC/include/herald/config.h")
[ "${VERSION%-*}" = "$UPSTREAM" ] ||
  die "packaging/deb/changelog says $VERSION, the binary is $UPSTREAM: add a changelog entry"
ARCH=$(dpkg --print-architecture)

# the unit, where `make install` has not put it (an install recipe without
# SYSTEMDUNITDIR)
if [ -f "$SRC/etc/herald.service" ] && [ ! -e "$ROOT/lib/systemd/system/herald.service" ]; then
  install -D -m 644 "$SRC/etc/herald.service" "$ROOT/lib/systemd/system/herald.service"
fi
# the binary, stripped as dh_strip would
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$ROOT/usr/bin/herald"
# man pages, gzipped without a name or time stamp (reproducible)
find "$ROOT/usr/share/man" -type f ! -name '*.gz' -exec gzip -9nf {} +
# documentation
DOC=$ROOT/usr/share/doc/herald
install -d "$DOC"
install -m 644 "$PKG/copyright" "$DOC/copyright"
gzip -9nc "$PKG/changelog" > "$DOC/changelog.Debian.gz"
chmod 644 "$DOC/changelog.Debian.gz"

# Depends from the libraries the binary links; dpkg-shlibdeps wants to run
# where a debian/control names the package
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/debian"
printf 'Source: herald\n\nPackage: herald\nArchitecture: any\n' > "$TMP/debian/control"
DEPENDS=$(cd "$TMP" && dpkg-shlibdeps -O "$ROOT/usr/bin/herald" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$DEPENDS" ] || die "dpkg-shlibdeps found no libraries for usr/bin/herald"

install -d -m 755 "$ROOT/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" \
  -e "s/@DEPENDS@/$DEPENDS/" "$PKG/control" > "$ROOT/DEBIAN/control"
for s in postinst prerm postrm; do install -m 755 "$PKG/$s" "$ROOT/DEBIAN/$s"; done
(cd "$ROOT" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort) > "$ROOT/DEBIAN/conffiles"
[ -s "$ROOT/DEBIAN/conffiles" ] || rm "$ROOT/DEBIAN/conffiles"
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
  xargs -d '\n' md5sum) > "$ROOT/DEBIAN/md5sums"
chmod 644 "$ROOT/DEBIAN/control" "$ROOT/DEBIAN/md5sums"
[ ! -e "$ROOT/DEBIAN/conffiles" ] || chmod 644 "$ROOT/DEBIAN/conffiles"

rm -f "$OUT"/herald_*.deb
DEB=$OUT/herald_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
