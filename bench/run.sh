#!/usr/bin/env bash
# One command for the benchmark suite: ours vs hand-written TorchSharp (alternating in one process), host-side work
# per step (native tensors created; a dispatch-bound tiny MLP), the ResNet50
# summary timing, the memory soak, and the PyTorch eager peer on the same data. Results go to out/bench/.
# Usage: bash bench/run.sh [--device cuda] [--quick] [--rounds N]      (PyTorch peer: Debian's python3-torch, or any torch)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out/bench
device=cpu; quick=""; rounds=()
while [ $# -gt 0 ]; do case "$1" in --device) device="$2"; shift 2;; --quick) quick="--quick"; shift;; --rounds) rounds=(--rounds "$2"); shift 2;; *) shift;; esac; done
dotnet build bench/Functional.Bench >/dev/null
run() { dotnet run --project bench/Functional.Bench --no-build -- "$@"; }
run step --device "$device" $quick "${rounds[@]}" --json out/bench/ours-$device.json | tee out/bench/ours-$device.md
run ops --device "$device" $quick | tee out/bench/ops-$device.md
run summary $quick | tee out/bench/summary.md
run soak $quick | tee out/bench/soak.md
py=/usr/bin/python3; [ -x "$py" ] || py=python3
if "$py" -c "import torch" 2>/dev/null; then
  threads=$("$py" -c "import os; print(os.cpu_count())")
  "$py" bench/pytorch_bench.py --device "$device" --threads "$threads" $quick --json out/bench/pytorch-$device.json | tee out/bench/pytorch-$device.md
else
  echo "PyTorch not found: apt-get install -y --no-install-recommends python3-torch (see docs/benchmarks.md)"
fi
