#!/usr/bin/env bash
# Installs every Debian package LayerLens needs to build, run and test. Idempotent: re-running it
# only installs what is missing. Uses sudo when not root. Downloads nothing but Debian packages.
set -euo pipefail

pkgs=(
  cmake ninja-build ccache g++ pkg-config git
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev libqt6opengl6-dev qt6-qpa-plugins
  libqcustomplot-dev libqcustomplot2.1-qt6
  libeigen3-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev libcli11-dev
  libvulkan-dev glslc glslang-tools spirv-tools vulkan-validationlayers mesa-vulkan-drivers vulkan-tools
  xvfb xauth x11-utils imagemagick
  clang libclang-rt-14-dev
  dpkg-dev
  libgrpc++-dev libgrpc-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc openssl
  # the CPU backend's f32 GEMM (oneDNN; OpenBLAS the next choice); bench_gemm also measures BLIS
  libopenblas-dev libopenblas0-pthread libopenblas0-openmp libblis-dev libdnnl-dev
  libopenmpi-dev openmpi-bin
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
