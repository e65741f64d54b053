#!/usr/bin/env bash
set -e
F=${FAIRREP_BIN:-target/release/fairrep}
cd "$(dirname "$0")/../../.."
i=0
while IFS='|' read -r name sets; do
  i=$((i+1))
  $F -q train --config configs/quickstart.toml --out ${WORK:-/tmp}/audit-r$i --force --set training.epochs=3 $sets > /dev/null
  echo "== $name ($sets)"
  $F -q audit --run ${WORK:-/tmp}/audit-r$i | grep -E "representation|probe"
done <<'LIST'
λ = 0|--set penalty.lambda=0
λ = 1|--set penalty.lambda=1
adversarial, λ = 1|--set penalty.kind=adversarial --set penalty.lambda=1
adversarial, λ = 10|--set penalty.kind=adversarial --set penalty.lambda=10
LAFTR one-step l1, λ = 1|--set penalty.kind=adversarial --set penalty.lambda=1 --set penalty.adversary.hidden=[32] --set penalty.adversary.steps=1 --set penalty.adversary.loss=l1
LAFTR one-step l1, λ = 10|--set penalty.kind=adversarial --set penalty.lambda=10 --set penalty.adversary.hidden=[32] --set penalty.adversary.steps=1 --set penalty.adversary.loss=l1
LIST
