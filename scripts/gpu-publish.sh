#!/usr/bin/env bash
# Publishes the test suite, the MNIST example and the benchmark, self-contained for linux-x64, WITHOUT the CPU libtorch natives,
# for a machine that has its own libtorch (e.g. a CUDA PyTorch's torch/lib) but no .NET ("bring your own libtorch").
# Output: .gpu/functional.tar.xz (unpacks to publish/). On the target:
#   tar xJf functional.tar.xz
#   export FUNCTIONAL_LIBTORCH=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__) + '/lib')")
#   publish/Functional.Tests            # the whole suite, CUDA-tagged tests included
#   publish/Mnist --device cuda         # the main job on the GPU
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu/publish
rm -rf .gpu && mkdir -p .gpu
for project in tests examples/Mnist bench/Functional.Bench; do
  dotnet publish "$project" -c Release -r linux-x64 --self-contained -o "$out" -p:GenerateDocumentationFile=false >/dev/null
done
# Drop exactly the files the CPU libtorch package ships; TorchSharp's own glue (libLibTorchSharp.so) stays.
cpu_natives="${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native"
for f in "$cpu_natives"/*; do rm -f "$out/$(basename "$f")"; done
ls "$out"/libLibTorchSharp.so >/dev/null
tar -C .gpu -cJf .gpu/functional.tar.xz publish
du -sh "$out" .gpu/functional.tar.xz
