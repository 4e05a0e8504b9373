#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the two Debian packages, medic-agent and medic-coordinator (with medicctl), with
# dpkg-deb alone (no debhelper, no source package):
#
#   scripts/package.sh [--build-dir DIR] [--out DIR]
#
# Without --build-dir it configures and builds a Release build (Debian's hardening flags from
# dpkg-buildflags) in build/package; with it, it packages the binaries already built there.
# The .debs land in --out (default build/debs). Sources: packaging/deb (control templates,
# maintainer scripts, copyright, changelog, man pages), packaging/systemd (units),
# packaging/config (the conffiles).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

build_dir=""
out_dir="$repo/build/debs"
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$(realpath "$2")"; shift 2 ;;
    --out) mkdir -p "$2"; out_dir="$(realpath "$2")"; shift 2 ;;
    -h|--help) sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument '$1' (--build-dir DIR, --out DIR)" >&2; exit 2 ;;
  esac
done

for tool in dpkg-deb dpkg-shlibdeps strip gzip md5sum; do
  if ! command -v "$tool" >/dev/null; then
    echo "package.sh: $tool is missing (scripts/setup.sh installs it)" >&2
    exit 1
  fi
done

if [ -z "$build_dir" ]; then
  build_dir="$repo/build/package"
  cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMEDIC_BUILD_TESTS=OFF \
    -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
    -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS) -Wl,-z,now" >/dev/null
  cmake --build "$build_dir" --parallel "${MEDIC_JOBS:-$(nproc)}" \
    --target medic-agent medic-coordinator medicctl
fi
agent_bin="$build_dir/agent/medic-agent"
coordinator_bin="$build_dir/coordinator/medic-coordinator"
medicctl_bin="$build_dir/coordinator/medicctl"
for bin in "$agent_bin" "$coordinator_bin" "$medicctl_bin"; do
  if [ ! -x "$bin" ]; then
    echo "package.sh: $bin is missing: build it first (or leave out --build-dir)" >&2
    exit 1
  fi
done

upstream="$("$agent_bin" --version | awk '{print $2}')"
version="${upstream}-1"
if ! head -n 1 packaging/deb/changelog | grep -qF "medic ($version)"; then
  echo "package.sh: packaging/deb/changelog does not start with version $version: add an entry" >&2
  exit 1
fi
arch="$(dpkg --print-architecture)"
mkdir -p "$out_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The files every package has: binaries (stripped), units, man pages, docs, maintainer scripts.
# $1 package, then its binaries.
stage() {
  local package="$1"
  shift
  local root="$work/$package"
  install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/etc/medic" "$root/lib/systemd/system" \
    "$root/usr/share/doc/$package" "$root/usr/share/man/man8"
  local bin
  for bin in "$@"; do
    install -m 0755 "$bin" "$root/usr/bin/"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note \
      "$root/usr/bin/$(basename "$bin")"
    gzip -9n <"packaging/deb/man/$(basename "$bin").8" >"$root/usr/share/man/man8/$(basename "$bin").8.gz"
    chmod 0644 "$root/usr/share/man/man8/$(basename "$bin").8.gz"
  done
  install -m 0644 "packaging/systemd/$package.service" "$root/lib/systemd/system/"
  install -m 0644 packaging/deb/copyright "$root/usr/share/doc/$package/copyright"
  gzip -9n <packaging/deb/changelog >"$root/usr/share/doc/$package/changelog.Debian.gz"
  chmod 0644 "$root/usr/share/doc/$package/changelog.Debian.gz"
  local script
  for script in postinst prerm postrm; do
    install -m 0755 "packaging/deb/$package.$script" "$root/DEBIAN/$script"
  done
}

# dpkg-shlibdeps wants a debian/control naming the packages; give it one in a scratch dir.
shlibs_of() {
  local scratch="$work/shlibs"
  mkdir -p "$scratch/debian"
  printf 'Source: medic\n\nPackage: medic-agent\nArchitecture: any\n\nPackage: medic-coordinator\nArchitecture: any\n' \
    >"$scratch/debian/control"
  (cd "$scratch" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# $1 package, $2 extra dependencies (may be empty), then its binaries.
finish() {
  local package="$1" extra="$2"
  shift 2
  local root="$work/$package"
  local depends
  depends="$(shlibs_of "$@")"
  if [ -n "$extra" ]; then
    depends="${depends:+$depends, }$extra"
  fi
  (cd "$root" && find etc -type f -printf '/%p\n' | sort) >"$root/DEBIAN/conffiles"
  chmod 0644 "$root/DEBIAN/conffiles"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum) >"$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/md5sums"
  local size
  size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
  # A statically linked binary (the Release agent, cmake/MedicStaticAgent.cmake) needs no
  # shared library: then the package has no Depends line at all (dpkg rejects an empty one).
  sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@SIZE@/$size/" -e '/^Depends: *$/d' "packaging/deb/$package.control" >"$root/DEBIAN/control"
  chmod 0644 "$root/DEBIAN/control"
  local deb="$out_dir/${package}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "$deb ($(du -k "$deb" | cut -f1) KiB)"
}

stage medic-agent "$agent_bin"
install -m 0644 packaging/config/agent.yaml "$work/medic-agent/etc/medic/agent.yaml"
finish medic-agent "" "$work/medic-agent/usr/bin/medic-agent"

stage medic-coordinator "$coordinator_bin" "$medicctl_bin"
install -m 0644 packaging/config/coordinator.yaml packaging/config/diagnosis.yaml \
  "$work/medic-coordinator/etc/medic/"
finish medic-coordinator "adduser" "$work/medic-coordinator/usr/bin/medic-coordinator" \
  "$work/medic-coordinator/usr/bin/medicctl"
