#!/usr/bin/env bash
# Runs every shipped recipe in full, then the tables and charts the README's *Findings* quote.
# Each recipe's terminal output, its `compare --by` tables and its wall time land in
# docs/findings/<recipe>.txt; a few charts are copied to docs/findings/ for the README.
#   bash docs/run_recipes.sh [RECIPE...]      (about 40 minutes on a 2-core CPU for all of them)
# Studies go to results/ as with any run; an existing study is started afresh (--fresh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/findings
mkdir -p "$out"
export COLUMNS=200   # rich tables at a width that fits every column

# recipe -> the `compare --by` paths that answer its question
declare -A BY=(
  [quickstart]="train.optimizer.name model.norm"
  [init_deep]="model.init model.activation"
  [activations]="model.activation"
  [batchnorm]="model.norm train.optimizer.lr"
  [regularization]="train.regularization.penalty.name model.dropout"
  [optimizers]="train.optimizer.name"
  [schedules]="train.schedule.name"
  [clipping]="train.regularization.clip_norm train.optimizer.lr"
  [augmentation]="data.augment.flip data.normalize"
  [shuffling]="train.shuffle train.optimizer.name"
  [batch_size]="train.batch_size train.optimizer.lr"
)

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(quickstart init_deep activations batchnorm regularization optimizers schedules clipping augmentation shuffling batch_size)
for name in "${names[@]}"; do
  log="$out/$name.txt"
  echo "== $name" >&2
  {
    echo "\$ sweepnn run recipes/$name.yaml --fresh --threads 1"
    start=$(date +%s)
    sweepnn run "recipes/$name.yaml" --fresh --threads 1 --quiet
    echo "(wall time: $(( $(date +%s) - start )) s)"
    studies=$name
    # a fair recipe's arms are studies of their own, <name>-<value>
    [ "$name" = optimizers ] && studies="$(sweepnn list --format csv | awk -F, -v p="$name-" 'index($1,p)==1{printf "%s ", $1}')"
    read -r -a by <<<"${BY[$name]}"
    for path in "${by[@]}"; do
      echo; echo "\$ sweepnn compare $studies--by $path"
      sweepnn compare $studies --by "$path"
    done
    if [ ${#by[@]} -eq 2 ]; then
      echo; echo "\$ sweepnn compare $studies--by ${by[0]} --by ${by[1]}"
      sweepnn compare $studies --by "${by[0]}" --by "${by[1]}"
    fi
  } >"$log" 2>&1
  sweepnn plot "${studies%% *}" >/dev/null 2>&1 || true
done
