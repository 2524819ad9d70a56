"""A run killed with SIGKILL and restarted ends with the same metrics as one never interrupted.

For TRL's GRPO, pbrl's PPO and TRL's SFT on the tiny policy (CPU, fixed seed): run A trains 6 steps straight;
run B is a subprocess that kills itself right after logging step 5 (checkpoint-4 is the last complete
one, and metrics.jsonl already holds a line for step 5), then B is restarted in the same run directory.
Its metrics lines must equal A's, value for value.

The subprocess entry point is this file: `python tests/integration/test_resume.py ALGO RUN_DIR CACHE_DIR KILL_AT`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

STEPS, SAVE_STEPS, KILL_AT = 6, 2, 5
TIMING_KEYS = {"seconds", "step_time"}  # wall-clock: the only values allowed to differ...
# ...except TRL SFTTrainer's running token count, which it keeps in memory and restarts from 0 on resume.
NOT_RESTORED = {"sft": {"num_tokens"}}
OVERRIDES = {
    "grpo": ["algo.learning_rate=2e-2"],
    "ppo": ["algo.learning_rate=5e-3", "algo.beta=0.01"],
    "sft": ["algo.learning_rate=1e-2"],
}


class ReferenceCharsReward:
    """Fraction of the completion's non-space characters found in the reference (None if empty)."""

    __name__ = "refchars"

    def __call__(self, prompts=None, completions=None, reference=None, **columns):
        from pbrl.rewards.base import completion_text

        scores = []
        for completion, ref in zip(completions, reference):
            chars = completion_text(completion).replace(" ", "")
            scores.append(sum(c in ref for c in chars) / len(chars) if chars else None)
        return scores


class KillAtStep:
    """Tracker that SIGKILLs its own process once step `kill_at` is logged (None: never)."""

    def __init__(self, kill_at: int | None):
        self.kill_at = kill_at

    def log(self, row, step=None):
        if step == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def run(algo: str, run_dir: Path, cache_dir: Path, kill_at: int | None = None) -> list[dict]:
    import datasets

    from pbrl.algos import train
    from pbrl.config import compose_config
    from pbrl.policy import load_policy
    from pbrl.rewards.base import RewardSet
    from pbrl.rundir import read_jsonl

    cfg = compose_config([
        f"algo={algo}", "policy=tiny", "device=cpu", f"algo.max_steps={STEPS}", f"algo.save_steps={SAVE_STEPS}",
        "algo.per_device_batch_size=8", "algo.gradient_accumulation_steps=1", "algo.max_completion_length=12", *OVERRIDES[algo],
    ])
    rows = [{"prompt": [{"role": "user", "content": f"Question: what is {i} + {i}?"}], "reference": "aeiou",
             "lang": "en", "id": f"toy-{i}"} for i in range(16)]
    policy = load_policy(cfg.policy, cache_dir, "cpu")
    rewards = RewardSet("refchars", {"refchars": ReferenceCharsReward()})
    train(policy, datasets.Dataset.from_list(rows), rewards, cfg.algo, run_dir, KillAtStep(kill_at), cfg.seed)
    return read_jsonl(run_dir / "metrics.jsonl")


def comparable(rows: list[dict], algo: str) -> list[dict]:
    skip = TIMING_KEYS | NOT_RESTORED.get(algo, set())
    return [{k: v for k, v in r.items() if k not in skip} for r in rows]


@pytest.mark.parametrize("algo", ["grpo", "ppo", "sft"])
def test_kill_and_resume_matches_uninterrupted(algo, tmp_path):
    cache_dir = tmp_path / "cache"
    straight = run(algo, tmp_path / "straight", cache_dir)

    resumed_dir = tmp_path / "resumed"
    killed = subprocess.run([sys.executable, __file__, algo, str(resumed_dir), str(cache_dir), str(KILL_AT)],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    checkpoints = sorted(p.name for p in (resumed_dir / "checkpoints").iterdir())
    assert f"checkpoint-{KILL_AT - 1}" in checkpoints and "final" not in checkpoints
    from pbrl.rundir import read_jsonl

    before_kill = read_jsonl(resumed_dir / "metrics.jsonl")
    assert [r["step"] for r in before_kill] == list(range(1, KILL_AT + 1))

    resumed = run(algo, resumed_dir, cache_dir)
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1))
    # It resumed rather than starting over: lines up to the checkpoint are the killed run's, timings included.
    assert resumed[: KILL_AT - 1] == before_kill[: KILL_AT - 1]
    print(f"\n{algo}: final reward/mean straight {straight[-1].get('reward/mean')} resumed "
          f"{resumed[-1].get('reward/mean')}; loss {straight[-1]['loss']:.8g} vs {resumed[-1]['loss']:.8g}")
    for a, b in zip(comparable(straight, algo), comparable(resumed, algo)):
        assert a.keys() == b.keys()
        for key in a:
            expected = a[key] if a[key] is None else pytest.approx(a[key], abs=1e-6, rel=1e-6)
            assert b[key] == expected, f"step {a['step']} {key}: {a[key]} vs {b[key]}"
    assert (resumed_dir / "checkpoints" / "final" / "config.json").exists()


if __name__ == "__main__":
    algo_name, run_dir_arg, cache_dir_arg, kill_at_arg = sys.argv[1:5]
    run(algo_name, Path(run_dir_arg), Path(cache_dir_arg), int(kill_at_arg))
