#!/usr/bin/env bash
# Runs every shipped recipe in full, then writes the tables and charts that docs/findings.md
# quotes, all made by sweepnn itself:
#   docs/findings/<recipe>.txt   what `sweepnn run` printed, and its wall time
#   docs/findings/<recipe>.md    `sweepnn show` and the `compare --by` tables, as Markdown
#   docs/findings/*.png          a few of the charts `sweepnn plot` drew
#
#   bash docs/run_recipes.sh [RECIPE...]          (about 9 minutes on a 2-core CPU for all of them)
#   TABLES_ONLY=1 bash docs/run_recipes.sh        (the tables and charts again, from results/)
# Studies go to results/ as with any run; an existing study is started afresh (--fresh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/findings
mkdir -p "$out"
export COLUMNS=200   # rich tables at a width that fits every column

# recipe -> the `compare --by` paths that answer its question (two of them: also the two-way table)
declare -A BY=(
  [quickstart]="train.optimizer.name model.norm"
  [init_deep]="model.init model.activation"
  [init_deep_bn]="model.init model.norm"
  [resnet_init_norm]="model.init model.norm"
  [activations]="model.activation"
  [batchnorm]="model.norm train.optimizer.lr"
  [regularization]="train.regularization.penalty.name model.dropout"
  [optimizers]="train.optimizer.name"
  [schedules]="train.schedule"
  [clipping]="train.regularization.clip_norm train.optimizer.lr"
  [augmentation]="data.augment.flip data.augment.rotate"
  [shuffling]="train.shuffle train.optimizer.name"
  [batch_size]="train.batch_size train.optimizer.lr"
  [image_folder]="data.augment.crop data.augment.rotate"
  [augment_choice]="data.augment"
)
# recipe -> other studies its `compare --by` tables take in (init_deep_bn is init_deep with batchnorm)
declare -A WITH=(
  [init_deep_bn]="init_deep"
)
# recipe -> charts of `sweepnn plot` copied for docs/findings.md
declare -A CHARTS=(
  [init_deep]="curves.png"
  [batchnorm]="effect-train.optimizer.lr.png"
  [schedules]="lr-schedule.png"
)

# The studies a recipe made: itself, or for a fair comparison one study per arm, <name>-<value>.
studies_of() {
  if grep -q '^  fair:' "recipes/$1.yaml"; then
    sweepnn list --format csv | awk -F, -v p="$1-" 'NR > 1 && index($1, p) == 1 { print $1 }'
  else
    echo "$1"
  fi
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(quickstart init_deep init_deep_bn activations batchnorm regularization optimizers schedules clipping augmentation shuffling batch_size resnet_init_norm image_folder augment_choice)
for name in "${names[@]}"; do
  echo "== $name" >&2
  # image_folder and augment_choice read PNG files: the circles, squares and triangles its test writes, made once
  if [[ "$name" = image_folder || "$name" = augment_choice ]] && [ ! -d data/shapes ]; then
    python tests/data/test_image_folder.py data/shapes
  fi
  if [ -z "${TABLES_ONLY:-}" ]; then
    {
      echo "\$ sweepnn run recipes/$name.yaml --fresh --threads 1"
      start=$(date +%s)
      sweepnn run "recipes/$name.yaml" --fresh --threads 1 --quiet
      echo "(wall time: $(( $(date +%s) - start )) s)"
    } >"$out/$name.txt" 2>&1
  fi
  mapfile -t studies < <(studies_of "$name")
  read -r -a compared <<<"${WITH[$name]:-} ${studies[*]}"
  read -r -a by <<<"${BY[$name]}"
  {
    echo "<!-- made by docs/run_recipes.sh from what sweepnn printed; do not edit -->"
    for study in "${studies[@]}"; do
      echo; echo "\`\$ sweepnn show $study --top 30 --format markdown\`"; echo
      sweepnn show "$study" --top 30 --format markdown | sed -n '/^## Top/,/^## Parameter importances/p' | sed '$d'
    done
    for path in "${by[@]}"; do
      echo; echo "\`\$ sweepnn compare ${compared[*]} --by $path --format markdown\`"; echo
      sweepnn compare "${compared[@]}" --by "$path" --format markdown
    done
    if [ ${#by[@]} -eq 2 ]; then
      echo; echo "\`\$ sweepnn compare ${compared[*]} --by ${by[0]} --by ${by[1]} --format markdown\`"; echo
      sweepnn compare "${compared[@]}" --by "${by[0]}" --by "${by[1]}" --format markdown
      # a recipe with a target asks how fast, too: the cells as the median seconds to it
      if grep -q '^  target:' "recipes/$name.yaml"; then
        echo; echo "\`\$ sweepnn compare ${compared[*]} --by ${by[0]} --by ${by[1]} --cell time --format markdown\`"; echo
        sweepnn compare "${compared[@]}" --by "${by[0]}" --by "${by[1]}" --cell time --format markdown
      fi
    fi
  } >"$out/$name.md" 2>&1
  for study in "${studies[@]}"; do sweepnn plot "$study" >/dev/null; done
  for chart in ${CHARTS[$name]:-}; do cp "results/${studies[0]}/plots/$chart" "$out/$name-$chart"; done
done
