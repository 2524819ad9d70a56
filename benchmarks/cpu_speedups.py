"""The default run's CPU speed-ups, each measured side by side in one process.

    python benchmarks/cpu_speedups.py [--threads 2] [--repeats 3]

SmolLM2-135M-Instruct, the default's 1-shot plain-text prompts on generated word problems:
1. greedy evaluation (16 prompts of one language per batch, up to 48 tokens): float32 vs bfloat16;
2. a GRPO rollout (2 prompts x 4 sampled completions, 40 tokens, through the LoRA wrapper as TRL
   generates): each prompt prefilled once (`pbrl.generation.prefill_repeated_prompts`) vs per repeat,
   in bfloat16;
3. one training micro-batch (forward + backward of 8 prompt+completion rows, LoRA on the top 6
   layers): float32 vs bfloat16.
Variants alternate (a, b, a, b, ...); prints the median seconds of each and their ratio.
bfloat16 is what `policy.dtype=auto` picks on CPUs with native bfloat16 (pbrl.policy.resolve_dtype).
"""

from __future__ import annotations

import argparse
import statistics
import time


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, variants: dict, repeats: int) -> None:
    seconds = {label: [] for label in variants}
    for _ in range(repeats):
        for label, fn in variants.items():
            seconds[label].append(timed(fn))
    (a, sa), (b, sb) = seconds.items()
    ma, mb = statistics.median(sa), statistics.median(sb)
    print(f"{name}: {a} {ma:.2f} s, {b} {mb:.2f} s (medians of {repeats}); {a}/{b} = {ma / mb:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--langs", default="de,ja,sw")
    args = parser.parse_args()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pbrl.data import wordproblems
    from pbrl.data.example import Example
    from pbrl.data.prompts import make_prompter
    from pbrl.generation import generate, prefill_repeated_prompts, stop_at_newline
    from pbrl.models import resolve_model

    torch.set_num_threads(args.threads)
    path = resolve_model("pbrl:smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    langs = args.langs.split(",")
    prompter = make_prompter("plain", 1, "wordproblems", langs, None)
    problems = wordproblems.generate("dev", 16)
    prompts = [prompter(Example("x", lang, wordproblems.question(p, lang), wordproblems.question(p, "en"),
                                str(wordproblems.answer(p)))) for lang in langs for p in problems]
    lora = LoraConfig(r=16, lora_alpha=32, layers_to_transform=list(range(24, 30)),
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    models = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        stop_at_newline(model, tokenizer)
        models[dtype] = get_peft_model(model, lora)
    print(f"{len(prompts)} prompts ({', '.join(langs)}), {args.threads} threads, torch {torch.__version__}")

    compare("greedy evaluation", {
        dtype_name: (lambda m=models[dtype]: generate(m, tokenizer, prompts, 48, batch_size=16))
        for dtype_name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16))
    }, args.repeats)

    rollout_rows = tokenizer([p for p in (prompts[0], prompts[-1]) for _ in range(4)], return_tensors="pt",
                             padding=True, add_special_tokens=False)
    sampling = dict(max_new_tokens=40, do_sample=True, temperature=0.7, top_p=1.0, pad_token_id=tokenizer.pad_token_id)
    per_repeat = models[torch.bfloat16]
    once = get_peft_model(AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16), lora)
    stop_at_newline(once, tokenizer)
    prefill_repeated_prompts(once)
    with torch.no_grad():
        compare("GRPO rollout (bfloat16)", {
            "per repeat": lambda: per_repeat.generate(**rollout_rows, **sampling),
            "once": lambda: once.generate(**rollout_rows, **sampling),
        }, args.repeats)

    batch = tokenizer([p + " 12 + 30 = 42. The answer is 42." for p in prompts[:8]], return_tensors="pt",
                      padding=True, add_special_tokens=False)

    def step(model):
        out = model(**batch, logits_to_keep=24)
        torch.log_softmax(out.logits.float(), -1).mean().backward()
        model.zero_grad(set_to_none=True)

    compare("training micro-batch", {
        "float32": lambda: step(models[torch.float32]),
        "bfloat16": lambda: step(models[torch.bfloat16]),
    }, args.repeats)


if __name__ == "__main__":
    main()
