#!/usr/bin/env bash
# Retrain the shipped models on the full datasets (CPU; times are for 2 cores, see weights/*/README.md).
# Usage: bash scripts/train_shipped_weights.sh [DATA_DIR] [DATASET...]   (default: ../shared/data, all four)
# Each model lands in weights/<dataset>/ with its card, its per-epoch log and its evaluation.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
shift || true
datasets=("${@:-mnist fashion-mnist chinese-mnist cifar10}")

train() {  # dataset, data path, then the train flags
  local name=$1 path=$2
  shift 2
  mkdir -p "weights/$name"
  python -m digitlab train --dataset "$name" --data-dir "$path" --out "weights/$name" --json "$@" \
    | tee "weights/$name/training_log.jsonl"
  python -m digitlab eval --dataset "$name" --data-dir "$path" --weights "weights/$name" \
    | tee "weights/$name/evaluation.txt"
}

for name in ${datasets[*]}; do
  case $name in
    mnist) train mnist "$data/mnist" --preset accurate ;;  # shipped: trained before hold-outs, then
      # python scripts/calibrate_weights.py weights/mnist --data-dir "$data/mnist"  (10 epochs: 99.64 %), then
      # the fine-tune on re-inked training digits (580 s; see scripts/finetune_reinked.py's docstring):
      # python scripts/reinked_views.py --numbers 2500 --digits 1500 --out /tmp/reinked.npz
      # python scripts/reinked_views.py --kinds number-photo --numbers 4000 --seed 2000 --out /tmp/reinked_photo.npz
      # python scripts/finetune_reinked.py /tmp/reinked.npz /tmp/reinked_photo.npz --out weights/mnist
      # then taught to decline what is not a digit (scripts/train_decline.py's docstring),
      # then given a row reader that reads numbers whole (scripts/train_rows.py's docstring)
    fashion-mnist) train fashion-mnist "$data/fashion_mnist" --preset accurate ;;
      # shipped: then taught to decline what is not clothing (scripts/train_decline.py's docstring)
    chinese-mnist) train chinese-mnist "$data/chinese_mnist/chinese_mnist_jpg.tar.gz" --preset accurate --epochs 15 ;;
      # shipped: then taught to decline what is not a numeral (scripts/train_decline.py's docstring)
    cifar10) train cifar10 "$data/cifar10/cifar10_jpg.tar.gz" --preset photos --epochs 10
      python scripts/halve_weights.py weights/cifar10 ;;  # float16 on disk: 3.9 MB instead of 7.9
      # shipped: then taught to decline what is none of its classes (scripts/train_decline.py's docstring)
    *) echo "unknown dataset $name" >&2; exit 2 ;;
  esac
done
