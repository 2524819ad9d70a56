"""`pbrl:tiny`: a random 2-layer Llama with a small byte-level BPE tokenizer, for fast tests.

Nothing on the hub is small enough to train in seconds on 2 CPU cores and reachable offline, so the
tiny policy is built here from a config. It is deterministic: the same seed gives the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from pbrl.cache import default_cache_dir
from pbrl.languages import LANGUAGES
from pbrl.rundir import atomic_directory

TINY_VOCAB_SIZE = 512
TINY_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
    rms_norm_eps=1e-5,
    tie_word_embeddings=True,
)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _training_corpus() -> list[str]:
    text = [
        "Question: Tom has 3 apples and buys 5 more. How many apples does he have now?",
        "Step-by-Step Answer: 3 + 5 = 8. The answer is 8.",
        "Solve the problem step by step. The answer is 42. 0 1 2 3 4 5 6 7 8 9 + - * / = .",
    ]
    for lang in LANGUAGES.values():
        text += [lang.answer_phrase, lang.question_prefix, lang.answer_prefix]
    return text * 4


def build_tiny(cache_dir: str | os.PathLike | None = None, seed: int = 0) -> str:
    """Build (once) and return the folder of the tiny random model + tokenizer."""
    cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    target = cache_dir / "models" / f"tiny-seed{seed}"
    if (target / "config.json").exists():
        return str(target)

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_training_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_CONFIG,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    with atomic_directory(target, replace=False) as tmp:  # a race lost to another process: theirs stands
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return str(target)
