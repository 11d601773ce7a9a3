#!/usr/bin/env bash
# Builds the xhad packages: packaging/build.sh VERSION OUTDIR
#
#   OUTDIR/xhad_VERSION_amd64.deb   (package version VERSION-1)
#   OUTDIR/xhad-VERSION.x86_64.rpm  (version VERSION, release 1)
# replacing any xhad_*_amd64.deb and xhad-*.x86_64.rpm already in OUTDIR.
#   OUTDIR/stage/   the files packed (binary, man pages, completion, config)
#                   and the nfpm.yaml used, which packaging/check.sh reuses
#                   for its upgrade test
#
# VERSION: digits first, then letters, digits, ".", "+", "~" (a leading "v"
# is dropped): 0.1.0, 0.2.0~rc1, 0.1.0+git5. Man pages are dated from
# SOURCE_DATE_EPOCH, else from the last commit.
set -euo pipefail

die() { echo "build.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: packaging/build.sh VERSION OUTDIR (e.g. packaging/build.sh 0.1.0 dist)"
version=${1#v}
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] ||
	die "version '$1' cannot be a package version: start with a digit, then only letters, digits, '.', '+', '~' (no '-': rpm forbids it)"

pkgdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$pkgdir/.." && pwd)
mkdir -p "$2"
outdir=$(cd "$2" && pwd)
stage=$outdir/stage
rm -rf "$stage"
mkdir -p "$stage"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

echo "build.sh: building the static binary (version $version)"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$stage/xhad" .) ||
	die "go build of xhad failed (see above)"
file "$stage/xhad" 2>/dev/null | grep -q 'statically linked' ||
	die "$stage/xhad is not a static binary; build with CGO_ENABLED=0"

# The man pages and completion scripts come from the binary's hidden
# commands `xhad gen-man 8|5` and `xhad completion bash|zsh`, so they are
# rendered from the real command line and the real dsl.Keys().
gen=("$stage/xhad")
"${gen[@]}" gen-man 8 >"$stage/xhad.8" || die "xhad gen-man 8 failed"
"${gen[@]}" gen-man 5 >"$stage/xhad.toml.5" || die "xhad gen-man 5 failed"
"${gen[@]}" completion bash >"$stage/xhad.bash" || die "xhad completion bash failed"
"${gen[@]}" completion zsh >"$stage/_xhad" || die "xhad completion zsh failed"
for f in xhad.8 xhad.toml.5 xhad.bash _xhad; do
	[ -s "$stage/$f" ] || die "generated $f is empty"
done
# -n: no name or time stamp in the gzip header (reproducible).
gzip -9nf "$stage/xhad.8" "$stage/xhad.toml.5"

# The packaged configuration: a header saying what to do, then the
# "LVM over DRBD" example.
cat "$pkgdir/xhad.toml.header" "$pkgdir/examples/lvm-over-drbd.toml" >"$stage/xhad.toml"

compgen -G "$pkgdir/drbd/*.example" >/dev/null ||
	die "no DRBD handler snippets ($pkgdir/drbd/*.example); the package must ship them"

# nfpm does not glob `type: doc` entries: write one rpm entry per example.
{
	while IFS= read -r line; do
		if [[ $line == '  # @rpm-doc-examples@' ]]; then
			for f in "$pkgdir"/examples/*.toml "$pkgdir"/drbd/*.example; do
				sub=examples/
				[[ $f == */drbd/* ]] && sub=examples/drbd/
				printf '  - src: %s\n    dst: /usr/share/doc/xhad/%s%s\n    packager: rpm\n    type: doc\n    file_info:\n      mode: 0644\n' \
					"$f" "$sub" "$(basename "$f")"
			done
		else
			printf '%s\n' "$line"
		fi
	done <"$pkgdir/nfpm.yaml"
} >"$stage/nfpm.yaml"
grep -q '^    dst: /usr/share/doc/xhad/examples/drbd/.' "$stage/nfpm.yaml" ||
	die "the line '  # @rpm-doc-examples@' is missing from $pkgdir/nfpm.yaml"

nfpm() {
	(cd "$pkgdir/tools" && VERSION=$version XHAD_STAGE=$stage XHAD_PKGDIR=$pkgdir go tool nfpm "$@")
}
deb=$outdir/xhad_${version}_amd64.deb
rpm=$outdir/xhad-${version}.x86_64.rpm
# Earlier builds' packages go: check.sh expects exactly one of each.
rm -f "$outdir"/xhad_*_amd64.deb "$outdir"/xhad-*.x86_64.rpm
nfpm package -f "$stage/nfpm.yaml" -p deb -t "$deb" || die "nfpm could not build the .deb"
nfpm package -f "$stage/nfpm.yaml" -p rpm -t "$rpm" || die "nfpm could not build the .rpm"
echo "build.sh: built $deb"
echo "build.sh: built $rpm"
