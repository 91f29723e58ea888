#!/usr/bin/env bash
# Packs the tool as a .NET 10 RID-specific tool into artifacts/ (or OUT): aeterna.linux-x64 and
# aeterna.linux-arm64 (NativeAOT executables), aeterna.any (the framework-dependent tool) and the
# package `aeterna` that names them, which `dotnet tool install aeterna` resolves for the machine:
# the native executable on linux-x64 and linux-arm64, the portable tool elsewhere; `dotnet tool install
# aeterna.any` installs the portable one by its own id anywhere (`-a any` does not: the SDK refuses it).
#
#   scripts/pack-native-tool.sh [OUT]          about 5 minutes on 2 cores (a NativeAOT compile per RID)
#
# The root `dotnet pack -c Release -o artifacts` makes the portable `aeterna` package alone (fast,
# for ./test.sh); this replaces it in OUT with the four above. linux-arm64 is cross-compiled here
# with clang and lld against Debian's aarch64 gcc toolchain (src/Aeterna.Tool/Native/NativeTool.targets).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/debian-packages.sh
out=$(realpath -m "${1:-artifacts}")
rids=(${AETERNA_TOOL_RIDS:-linux-x64 linux-arm64 any})
need_debian_packages "the native tool packages" clang lld gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
project=src/Aeterna.Tool/Aeterna.Tool.csproj
for rid in "${rids[@]}"; do
  echo "== aeterna.$rid"
  dotnet pack "$project" -c Release -r "$rid" -p:NativeTool=true -o "$out" -nologo -clp:ErrorsOnly
done
echo "== aeterna (names the RID packages)"
dotnet pack "$project" -c Release -p:NativeTool=true -o "$out" -nologo -clp:ErrorsOnly
ls -l "$out"/aeterna.*nupkg
