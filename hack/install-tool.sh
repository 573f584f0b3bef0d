#!/usr/bin/env bash
# install-tool.sh PACKAGE VERSION DEST: go install a pinned tool and keep it
# at DEST, named with its version so that a version change reinstalls it.
set -euo pipefail
pkg=$1 version=$2 dest=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "installing $pkg@$version"
GOBIN="$tmp" go install "$pkg@$version"
mkdir -p "$(dirname "$dest")"
mv "$tmp/$(basename "$pkg")" "$dest"
