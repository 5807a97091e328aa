#!/usr/bin/env bash
# The one release build: `swift build -c release` with the flags every release binary is built with
# (Makefile `release`/`install`/`bench`, the benchmark scripts), so that they share one build directory.
# Extra arguments go to swift build (--scratch-path, --product).
# - --static-swift-stdlib: the Swift runtime and Foundation linked in; the host needs only the C
#   libraries of Debian's libvirt0, libsnmp40 and libssl3.
# - Code layout (scripts/layout/README.md): one section per function, linked by lld with the functions
#   the agents run first in .text (hot-functions.txt), unnamed thunks next to them, packed relative
#   relocations and no exported symbol table. At 1000 domains this takes ~16 MiB off the compute agent's
#   resident set: the kernel maps code in windows of 64 KiB or more around each page it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
L=scripts/layout
# swift build does not see a changed ordering file (its flags are the same): the binaries this build
# makes (--product, the last one as for swift build, or all) are removed when older than it, so that
# they are linked again.
scratch=.build; products=(); prev=""
for a in "$@"; do
  case "$a" in --scratch-path=*) scratch=${a#*=} ;; --product=*) products=("${a#*=}") ;; esac
  [ "$prev" = --scratch-path ] && scratch=$a
  [ "$prev" = --product ] && products=("$a")
  prev=$a
done
[ ${#products[@]} -gt 0 ] || products=(nephometer nephometer-bench nephometer-testbed)
for p in "${products[@]}"; do
  b="$scratch/release/$p"
  if [ -f "$b" ] && { [ "$L/hot-functions.txt" -nt "$b" ] || [ "$L/unnamed-text.ld" -nt "$b" ]; }; then rm -f "$b"; fi
done
exec swift build -c release --static-swift-stdlib \
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections -Xswiftc -use-ld=lld \
  -Xlinker --symbol-ordering-file="$PWD/$L/hot-functions.txt" -Xlinker --no-warn-symbol-ordering \
  -Xlinker -T -Xlinker "$PWD/$L/unnamed-text.ld" \
  -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic "$@"
