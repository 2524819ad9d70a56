"""How the policy is loaded on a GPU cluster: where its weights go, FSDP's environment, chat-template defaults."""

from __future__ import annotations

import pytest

from pbrl import policy

# The generation-prompt tail of Qwen3's chat template (Qwen/Qwen3-32B tokenizer_config.json).
QWEN3_TAIL = (
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
TEMPLATE = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" + QWEN3_TAIL


def test_each_rank_loads_straight_onto_its_own_gpu():
    assert policy.placement("cuda", {"LOCAL_RANK": "3"}) == {"device_map": {"": "cuda:3"}}
    assert policy.placement("cuda", {}) == {"device_map": {"": "cuda:0"}}
    assert policy.placement("cpu", {"LOCAL_RANK": "1"}) == {}


def test_load_policy_reads_the_weights_onto_this_ranks_gpu_with_no_host_copy(tiny_cache, monkeypatch):
    """`from_pretrained(device_map=...)`, no `.to(device)` after it (here a CPU build: `.to("cuda")` would fail)."""
    from transformers import AutoModelForCausalLM

    seen = {}
    plain = AutoModelForCausalLM.from_pretrained

    def from_pretrained(source, **kwargs):
        seen.update(kwargs)
        return plain(source, dtype=kwargs["dtype"])

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    policy.load_policy({"model": "pbrl:tiny", "dtype": "float32"}, tiny_cache, "cuda")
    assert seen["device_map"] == {"": "cuda:1"}


def test_under_fsdp_weights_stay_where_accelerate_shards_them_from():
    env = policy.fsdp_environment() | {"LOCAL_RANK": "2"}
    assert policy.fsdp_enabled(env)
    assert policy.placement("cuda", env) == {}  # rank 0 reads them on CPU, the others start on meta
    assert env["FSDP_CPU_RAM_EFFICIENT_LOADING"] == "true" and env["FSDP_VERSION"] == "2"
    assert not policy.fsdp_enabled({})


def test_fsdp_environment_is_trls_fsdp2_config():
    """trl/accelerate_configs/fsdp2.yaml, the config TRL documents for FSDP2: every key it sets, the same."""
    from pathlib import Path

    import trl
    import yaml

    shipped = yaml.safe_load((Path(trl.__file__).parent / "accelerate_configs" / "fsdp2.yaml").read_text())
    env = policy.fsdp_environment()
    for key, value in shipped["fsdp_config"].items():
        assert env[key.upper()].lower() == str(value).lower(), key


def render(tokenizer, **kwargs) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": "2+2?"}], tokenize=False,
                                         add_generation_prompt=True, **kwargs)


@pytest.fixture()
def qwen3_like(tiny_cache):
    from pbrl.models import resolve_model

    return policy.load_tokenizer(resolve_model("pbrl:tiny", tiny_cache), TEMPLATE,
                                 chat_template_kwargs={"enable_thinking": False})


def test_thinking_off_reaches_every_render_of_the_tokenizer(qwen3_like):
    """Qwen3 with enable_thinking=False: the prompt ends in an empty think block, so answers start at once."""
    assert render(qwen3_like).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert render(qwen3_like, enable_thinking=True).endswith("<|im_start|>assistant\n")  # an explicit value wins


def test_template_defaults_survive_saving_and_applying_twice(qwen3_like, tmp_path):
    qwen3_like.save_pretrained(tmp_path)
    again = policy.load_tokenizer(str(tmp_path), chat_template_kwargs={"enable_thinking": False})
    assert again.chat_template == qwen3_like.chat_template
    assert render(again).endswith("</think>\n\n")


def test_without_defaults_the_template_is_untouched(tiny_cache):
    from pbrl.models import resolve_model

    plain = policy.load_tokenizer(resolve_model("pbrl:tiny", tiny_cache), TEMPLATE)
    assert plain.chat_template == TEMPLATE and render(plain).endswith("assistant\n")


@pytest.mark.parametrize("kwargs, message", [({"enable-thinking": False}, "not a template variable name"),
                                             ({"enable_thinking": [1]}, "give a bool, number or string")])
def test_bad_template_defaults_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        policy.with_template_defaults("x", kwargs)


def test_load_policy_applies_the_policy_template_defaults(tiny_cache, monkeypatch):
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    loaded = policy.load_policy({"model": "pbrl:tiny", "dtype": "float32", "chat_template": TEMPLATE,
                                 "chat_template_kwargs": {"enable_thinking": False},
                                 "gradient_checkpointing": True}, tiny_cache, "cpu")
    assert render(loaded.tokenizer).endswith("</think>\n\n")
    assert loaded.gradient_checkpointing and loaded.model.is_gradient_checkpointing


def test_under_fsdp_checkpointing_stays_the_models(tiny_cache, monkeypatch):
    """As in TRL's FSDP2 config: transformers' gradient checkpointing (TRL's `gradient_checkpointing`, on
    which pbrl's shared-prompt scoring falls back to TRL's), not FSDP's layer wrappers, which replay a
    layer's KV-cache writes when they recompute it."""
    for key, value in policy.fsdp_environment().items():
        monkeypatch.setenv(key, value)
    loaded = policy.load_policy({"model": "pbrl:tiny", "dtype": "float32", "gradient_checkpointing": True},
                                tiny_cache, "cpu")
    assert loaded.gradient_checkpointing and loaded.model.is_gradient_checkpointing
