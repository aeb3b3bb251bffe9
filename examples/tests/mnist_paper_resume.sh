#!/usr/bin/env bash
# A run killed with SIGKILL and resumed from its checkpoint must end with the same weights,
# optimizer state and noise state, bit for bit, as a run that was never interrupted.
# Usage: mnist_paper_resume.sh MNIST_PAPER CHECKPOINT_TOOL WORK_DIR
set -euo pipefail
program=$1
tool=$2
work=$3
rm -rf "$work" && mkdir -p "$work"
export OMP_NUM_THREADS=2
common=(--model p2 --batch 20 --log-every 5 --eval-every 5 --seed 7)

"$program" "${common[@]}" --steps 30 --save "$work/straight.ckpt" > "$work/straight.log"

# The interrupted run is asked for many steps and killed once a checkpoint past step 10
# exists, wherever it then is (maybe in the middle of writing the next one).
"$program" "${common[@]}" --steps 100000 --save "$work/resumed.ckpt" > "$work/first.log" &
pid=$!
for _ in $(seq 600); do
    if [[ -f $work/resumed.ckpt ]] && grep -q "step 15/" "$work/first.log"; then break; fi
    sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2> /dev/null || true
"$tool" list "$work/resumed.ckpt" | grep -q "run/step" || { echo "no loadable checkpoint"; exit 1; }

"$program" "${common[@]}" --steps 30 --resume "$work/resumed.ckpt" --save "$work/resumed.ckpt" \
    > "$work/second.log"
grep -q "resumed from" "$work/second.log" || { echo "the second run did not resume"; exit 1; }
"$tool" compare "$work/straight.ckpt" "$work/resumed.ckpt" param/ velocity/ state/ run/step

# A checkpoint of another model is refused with a message.
if "$program" --model p1 --batch 20 --seed 7 --steps 30 --resume "$work/resumed.ckpt" \
    > "$work/other.log" 2>&1; then
    echo "a p2 checkpoint was accepted for p1"
    exit 1
fi
grep -q "saved by another run" "$work/other.log" || { cat "$work/other.log"; exit 1; }
# Without --model, a resumed run continues the checkpoint's model.
"$program" --batch 20 --log-every 5 --eval-every 5 --seed 7 --steps 35 \
    --resume "$work/resumed.ckpt" > "$work/inferred.log"
grep -q "\[p2\] resumed from" "$work/inferred.log" || { cat "$work/inferred.log"; exit 1; }

# A resumed run must have steps left to train: the checkpoint is at step 30.
if "$program" "${common[@]}" --steps 30 --resume "$work/resumed.ckpt" > "$work/none.log" 2>&1
then
    echo "a resume with no steps left was accepted"
    exit 1
fi
grep -q "leaves nothing to train" "$work/none.log" || { cat "$work/none.log"; exit 1; }
echo "mnist_paper resume test passed"
