"""The machine's limits and pbrl's share of them, measured in one process on this CPU.

    python benchmarks/machine_limits.py [--threads 2] [overrides ...]     # the default run (~5 min)

1. Limits: the matmul peak (GFLOP/s) in float32 and bfloat16 at the policy's shapes (512 tokens x
   hidden -> intermediate: prefill-like; 32 rows: decode-like), and the rate at which the cores read
   memory (GB/s): a decode step reads every weight once, so weight bytes / that rate bounds it too.
2. pbrl's share: the default run (`python -m pbrl.run` with `overrides`), with every forward pass of
   the policy timed and sorted into evaluation and GRPO rollout prefill (several new tokens a row) and
   decode (one), and GRPO's training forward. Useful FLOPs count each token once where it is computed
   (a shared few-shot prefix once, padding never): 2 x non-embedding parameters per token, attention
   4 x layers x hidden x context per token, the LM head 2 x vocab x hidden per scored position.
   Prefill rows give useful GFLOP/s and % of the peak in the run's dtype (target >= 50 %); decode
   rows give ms a step against the step's bounds, arithmetic (FLOPs / peak) and memory (weight bytes
   / read rate), and the ratio to the larger (target <= 2x); beside them, the step's matmuls alone
   (every weight matrix once at the step's rows, read from memory as in a step): the floor the matmul
   library leaves before attention, elementwise work and dispatch.
3. The run's seconds per stage, and the process's peak RSS when each stage ended.
Prints one table. Threads are set explicitly (OMP_NUM_THREADS and torch.set_num_threads).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

PREFILL_TOKENS = 512
DECODE_ROWS = 32


def matmul_peak(dtype, rows: int, inner: int, out: int, seconds: float = 1.0) -> float:
    """GFLOP/s of [rows, inner] @ [inner, out] in `dtype`, best of repeated timings over ~`seconds`,
    of PyTorch's matmul and of a linear layer as generation runs it (`pbrl.generation.onednn_linears`:
    oneDNN's kernel in float32 too, faster than MKL's on some CPUs)."""
    import torch

    from pbrl.generation import onednn_linears

    a, layer = torch.randn(rows, inner, dtype=dtype), torch.nn.Linear(inner, out, bias=False, dtype=dtype)
    b = layer.weight.detach().t().contiguous()
    best = float("inf")
    with torch.no_grad(), onednn_linears(layer):
        for multiply in (lambda: a @ b, lambda: layer(a)):
            for _ in range(3):
                multiply()
            spent = 0.0
            while spent < seconds:
                start = time.perf_counter()
                for _ in range(5):
                    multiply()
                elapsed = (time.perf_counter() - start) / 5
                best, spent = min(best, elapsed), spent + 5 * elapsed
    return 2 * rows * inner * out / best / 1e9


def read_rate(nbytes: int, seconds: float = 1.0) -> float:
    """GB/s at which the cores sum a tensor of `nbytes` (the weights' size: mostly out of cache)."""
    import torch

    x = torch.ones(nbytes // 4, dtype=torch.float32)
    x.sum()
    best, spent = float("inf"), 0.0
    while spent < seconds:
        start = time.perf_counter()
        x.sum()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
    return nbytes / best / 1e9


class ForwardLog:
    """Times every forward pass of the policy's decoder stack and files it under a phase: (stage,
    kind) with kind prefill / decode / forward with grad (training); keeps seconds, useful FLOPs and tokens. The decoder
    stack, not the `*ForCausalLM` around it: PEFT calls the latter's `forward` directly (no hooks),
    and TRL's fused LM head never calls the head as a module, so training rows count no LM head."""

    def __init__(self):
        self.stage = "other"
        self.seconds: dict = defaultdict(float)
        self.flops: dict = defaultdict(float)
        self.tokens: dict = defaultdict(int)
        self.steps: dict = defaultdict(list)  # decode: (seconds, rows, context) per step
        self.peak_rss: dict = {}  # stage -> the process's peak RSS (GB) when the stage ended
        self._open: dict = {}

    def pre_hook(self, module, args, kwargs):
        self._open[id(module)] = time.perf_counter()

    def hook(self, module, args, kwargs, output):
        import torch

        seconds = time.perf_counter() - self._open.pop(id(module))
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        rows, new = ids.shape
        mask = kwargs.get("attention_mask")
        context = mask.shape[-1] if mask is not None else new
        real = int(mask[:, -new:].sum()) if mask is not None and mask.dim() == 2 else rows * new
        kind = "forward with grad" if torch.is_grad_enabled() else ("decode" if new == 1 else "prefill")
        flops = useful_flops(module.config, real, context - new / 2, 0 if kind == "train" else rows)
        phase = (self.stage, kind)
        self.seconds[phase] += seconds
        self.flops[phase] += flops
        self.tokens[phase] += real
        if kind == "decode":
            self.steps[phase].append((seconds, rows, context))


def layer_weight_shapes(config) -> list[tuple[int, int]]:
    """(out, in) of one decoder layer's weight matrices: q, k, v, o, gate, up, down."""
    h, i = config.hidden_size, config.intermediate_size
    heads, kv_heads = config.num_attention_heads, getattr(config, "num_key_value_heads", config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or h // heads
    q, kv = heads * head_dim, kv_heads * head_dim
    return [(q, h), (kv, h), (kv, h), (h, q), (i, h), (i, h), (h, i)]


def non_embedding_parameters(config) -> int:
    return config.num_hidden_layers * sum(out * inner for out, inner in layer_weight_shapes(config))


def useful_flops(config, tokens: int, mean_context: float, scored: int) -> float:
    """Matmul FLOPs of `tokens` new tokens attending over `mean_context` positions, `scored` LM-head rows."""
    h = config.hidden_size
    return (2 * non_embedding_parameters(config) * tokens + 4 * config.num_hidden_layers * h * mean_context * tokens
            + 2 * config.vocab_size * h * scored)


def decode_bound_ms(config, dtype_bytes: int, rows: int, context: int, peak: float, rate: float) -> tuple[float, float]:
    """(arithmetic, memory) lower bounds in ms of one decode step of `rows` rows at `context` positions."""
    arithmetic = useful_flops(config, rows, context, rows) / (peak * 1e9) * 1e3
    weights = (non_embedding_parameters(config) + config.vocab_size * config.hidden_size) * dtype_bytes
    kv_width = layer_weight_shapes(config)[1][0]  # key (and value) heads x head dim
    kv = 2 * config.num_hidden_layers * rows * context * kv_width * dtype_bytes
    return arithmetic, (weights + kv) / (rate * 1e9) * 1e3


def step_matmuls_ms(config, dtype, rows: int, repeats: int = 5) -> float:
    """Median ms of one decode step's matmuls alone: `rows` rows through distinct linear layers of
    every layer's shapes and the LM head (269 MB in bfloat16 for SmolLM2: read from memory, not cache),
    with the kernels generation picks (`pbrl.generation.onednn_linears`)."""
    import torch

    from pbrl.generation import onednn_linears

    shapes = [*layer_weight_shapes(config) * config.num_hidden_layers, (config.vocab_size, config.hidden_size)]
    layers = torch.nn.ModuleList(torch.nn.Linear(inner, out, bias=False, dtype=dtype) for out, inner in shapes)
    inputs = {inner: torch.randn(rows, inner, dtype=dtype) for _, inner in shapes}
    times = []
    with torch.no_grad(), onednn_linears(layers):
        for _ in range(repeats + 1):
            start = time.perf_counter()
            for layer in layers:
                layer(inputs[layer.in_features])
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1e3


@contextmanager
def logging_forwards(log: ForwardLog):
    import pbrl.pipeline

    plain_run = pbrl.pipeline.StageTimer.run

    def run(self, name, output, compute, load):
        log.stage = name
        try:
            return plain_run(self, name, output, compute, load)
        finally:
            log.stage = "other"
            log.peak_rss[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6

    import transformers

    plain_init = transformers.PreTrainedModel.post_init

    def post_init(model):
        plain_init(model)
        stack = getattr(model, "model", None)
        if type(model).__name__.endswith("ForCausalLM") and hasattr(stack, "layers"):
            stack.register_forward_pre_hook(log.pre_hook, with_kwargs=True)
            stack.register_forward_hook(log.hook, with_kwargs=True)

    pbrl.pipeline.StageTimer.run = run
    transformers.PreTrainedModel.post_init = post_init
    try:
        yield
    finally:
        pbrl.pipeline.StageTimer.run = plain_run
        transformers.PreTrainedModel.post_init = plain_init


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each peak measurement")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the run (default: none, the default run)")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from pbrl.config import compose_config
    from pbrl.pipeline import run_pipeline
    from pbrl.policy import resolve_dtype

    work = Path(tempfile.mkdtemp(prefix="pbrl-limits-"))
    cfg = compose_config([f"paths.runs={work}/runs", "device=cpu", *args.overrides])
    dtype = resolve_dtype(cfg.policy.dtype, "cpu")
    log = ForwardLog()
    start = time.perf_counter()
    with logging_forwards(log):
        summary = run_pipeline(cfg, work / "runs" / "default" / "default")
    wall = time.perf_counter() - start
    from transformers import AutoConfig

    from pbrl.models import resolve_model

    config = AutoConfig.from_pretrained(resolve_model(cfg.policy.model, Path(cfg.paths.cache).expanduser()))
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    h, i = config.hidden_size, config.intermediate_size
    peaks = {d: (matmul_peak(d, PREFILL_TOKENS, h, i, args.seconds), matmul_peak(d, DECODE_ROWS, h, i, args.seconds))
             for d in (torch.float32, torch.bfloat16)}
    weight_bytes = (non_embedding_parameters(config) + config.vocab_size * h) * 4
    rate = read_rate(weight_bytes, args.seconds)
    print_table(args, cfg, config, dtype, peaks, rate, log, summary, wall)


def print_table(args, cfg, config, dtype, peaks, rate, log, summary, wall) -> None:
    import torch

    name = "bfloat16" if dtype == torch.bfloat16 else "float32"
    peak = peaks[dtype][0]
    print(f"\nCPU: {_cpu_name()}, {args.threads} threads, torch capability {torch.backends.cpu.get_cpu_capability()}; "
          f"policy {cfg.policy.model} in {name}")
    print("| measure | value | share of the machine's limit |")
    print("|---|---:|---:|")
    for d, (big, small) in peaks.items():
        print(f"| matmul peak, {str(d).removeprefix('torch.')} ({PREFILL_TOKENS} / {DECODE_ROWS} rows x {config.hidden_size}"
              f" x {config.intermediate_size}) | {big:.0f} / {small:.0f} GFLOP/s | |")
    print(f"| memory read rate | {rate:.1f} GB/s | |")
    for phase in log.seconds:  # in the order the run met them
        stage, kind = phase
        seconds, flops, tokens = log.seconds[phase], log.flops[phase], log.tokens[phase]
        if kind == "decode":
            steps = log.steps[phase]
            per_step = statistics.median(s for s, _, _ in steps) * 1e3
            rows = statistics.median(r for _, r, _ in steps)
            context = statistics.median(c for _, _, c in steps)
            arithmetic, memory = decode_bound_ms(config, dtype.itemsize, int(rows), int(context), peaks[dtype][1], rate)
            bound = max(arithmetic, memory)
            matmuls = step_matmuls_ms(config, dtype, int(rows))
            print(f"| {stage} decode: {len(steps)} steps, median {rows:.0f} rows x {context:.0f} positions | "
                  f"{per_step:.1f} ms a step (bounds: arithmetic {arithmetic:.1f}, memory {memory:.1f}; "
                  f"its matmuls alone {matmuls:.1f}) | {per_step / bound:.1f}x the larger bound "
                  f"(matmuls alone {matmuls / bound:.1f}x) |")
        else:
            rate_flops = flops / seconds / 1e9
            print(f"| {stage} {kind}: {tokens} tokens in {seconds:.1f} s | {tokens / seconds:.0f} tokens/s, "
                  f"{rate_flops:.0f} useful GFLOP/s | {100 * rate_flops / peak:.0f} % of the {name} peak |")
    for stage, timing in summary["stage_timings"].items():
        rss = f"peak RSS {log.peak_rss[stage]:.2f} GB at its end" if stage in log.peak_rss else ""
        print(f"| stage {stage} | {timing['seconds']:.1f} s | {rss} |")
    print(f"| wall (the run) | {wall:.1f} s | |")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
