"""Checkpoint folders of every trainer: find the last complete `checkpoint-N`, save `final` atomically."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from pbrl.rundir import atomic_directory

STEP_DIR = re.compile(r"^checkpoint-(\d+)$")
COMPLETE_MARKER = "trainer_state.json"  # transformers' Trainer writes it last in a checkpoint


def last_complete_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The newest checkpoint that finished writing; partial ones (killed mid-save) are removed.

        last_complete_checkpoint(Path("runs/default/x/checkpoints"))   # -> .../checkpoint-4 or None
    """
    if not checkpoints_dir.exists():
        return None
    found = sorted(
        (int(m.group(1)), p) for p in checkpoints_dir.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir()
    )
    for _, path in reversed(found):
        if (path / COMPLETE_MARKER).exists():
            return path
        shutil.rmtree(path, ignore_errors=True)
    return None


def save_final(model, tokenizer, final_dir: Path) -> Path:
    """Save the trained weights (adapter or full model) + tokenizer into `final_dir` atomically."""
    model = getattr(model, "module", model)  # unwrap DDP
    with atomic_directory(final_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return final_dir
