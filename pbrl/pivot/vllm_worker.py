"""`pivot.backend=vllm` in its own process (`pbrl.isolated`): one vLLM engine answers every English question.

    python -m pbrl.pivot.vllm_worker spec.json result.json

spec: {model, prompts (chat messages), n, temperature, max_tokens, seed, engine {gpu_memory_utilization,
max_model_len, tensor_parallel_size}, chat_template_kwargs}; result: the samples, a list per prompt.
"""

from __future__ import annotations

import sys


def generate(spec: dict) -> list[list[str]]:
    from vllm import LLM, SamplingParams

    from pbrl.isolated import vllm_dtype

    llm = LLM(model=spec["model"], seed=spec["seed"], dtype=vllm_dtype(), **spec["engine"])
    params = SamplingParams(n=spec["n"], temperature=spec["temperature"], max_tokens=spec["max_tokens"],
                            seed=spec["seed"])
    outputs = llm.chat(spec["prompts"], params, use_tqdm=True,
                       chat_template_kwargs=spec.get("chat_template_kwargs") or None)
    return [[o.text.strip() for o in out.outputs] for out in outputs]


if __name__ == "__main__":
    from pbrl.isolated import child_main

    sys.exit(child_main(sys.argv[1:], generate))
