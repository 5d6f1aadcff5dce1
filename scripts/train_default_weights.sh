#!/usr/bin/env bash
# Retrain the shipped default weights on the full real MNIST (about 20 min on 2 CPU cores).
# Usage: bash scripts/train_default_weights.sh [MNIST_DIR]   (default: ../shared/data/mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mnist}"
python -m digitlab train --preset accurate --data-dir "$data" --out weights --json | tee weights/training_log.jsonl
python -m digitlab eval --data-dir "$data" --weights weights
