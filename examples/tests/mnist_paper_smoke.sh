#!/usr/bin/env bash
# Smoke test of the main job: a few dozen steps of every model on the bundled sample must
# lower the training loss, and bad settings must be refused before any work starts.
# Usage: mnist_paper_smoke.sh MNIST_PAPER WORK_DIR
set -euo pipefail
program=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
export OMP_NUM_THREADS=2

"$program" --steps 40 --batch 50 --log-every 10 --eval-every 40 --out "$work" > "$work/log.txt"
for model in baseline p1 p2 p_ste; do
    curve=$work/curve_$model.csv
    [[ -f $curve ]] || { echo "no learning curve $curve"; exit 1; }
    first=$(awk -F, 'NR == 2 { print $2 }' "$curve")
    last=$(awk -F, 'END { print $2 }' "$curve")
    echo "$model: loss $first after 10 steps, $last after 40"
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' ||
        { echo "$model: the loss did not fall"; exit 1; }
done
grep -q '"test_accuracy"' "$work/results.json" || { echo "results.json lacks accuracies"; exit 1; }
if command -v gnuplot > /dev/null; then
    for model in baseline p1 p2 p_ste; do
        [[ -s $work/curve_$model.png ]] || { echo "no plot curve_$model.png"; exit 1; }
    done
    if compgen -G "$work/*.tmp" > /dev/null; then echo "temp files left behind"; exit 1; fi
fi

# Refused settings: exit status 1 or 2 and a message naming the problem.
expect_refusal() {
    local pattern=$1
    shift
    if "$program" "$@" > "$work/refused.txt" 2>&1; then
        echo "accepted: $*"
        exit 1
    fi
    grep -q -- "$pattern" "$work/refused.txt" || {
        echo "refused without saying \"$pattern\": $*"
        cat "$work/refused.txt"
        exit 1
    }
}
expect_refusal "--batch is 0" --batch 0
expect_refusal "--lr is 0" --lr 0
expect_refusal "--lr is -1" --lr -1
expect_refusal "no train-images" --data "$work"
expect_refusal "unknown model" --model p3
expect_refusal "expects a number" --steps ten
expect_refusal "unknown option --bogus" --bogus
expect_refusal "--k-sigmas must be" --k-sigmas -1
expect_refusal "is out of range" --steps 99999999999999999999
# An output folder that cannot be made is refused before any training.
touch "$work/a-file"
expect_refusal "cannot create the --out folder" --steps 1 --out "$work/a-file/results"
echo "mnist_paper smoke test passed"
